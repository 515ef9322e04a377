"""cache-stats: the hit rate from INFO stats (keyspace_hits / misses) against the spec's target."""

from __future__ import annotations

from typing import Literal

from vendzz_migrate.cache.models import CacheStats, NodeStats
from vendzz_migrate.cache.redis_io import open_target, redis_errors
from vendzz_migrate.cache.spec import CacheSpec
from vendzz_migrate.settings import Settings


def stats(settings: Settings, spec: CacheSpec) -> CacheStats:
    """Hits, misses and hit rate summed over every master (server-wide counters)."""
    target = open_target(settings, spec.client)
    try:
        counters = target.info("stats")
        memory = target.info("memory")
        nodes = []
        for address, node in sorted(target.nodes.items()):
            with redis_errors(f"{target.url} ({address})"):
                keys = int(node.client.dbsize())
            nodes.append(
                NodeStats(
                    address=address,
                    hits=int(counters[address].get("keyspace_hits", 0)),
                    misses=int(counters[address].get("keyspace_misses", 0)),
                    keys=keys,
                    used_memory=int(memory[address].get("used_memory", 0)),
                    maxmemory=int(memory[address].get("maxmemory", 0)),
                )
            )
    finally:
        target.close()
    hits, misses = sum(n.hits for n in nodes), sum(n.misses for n in nodes)
    lookups = hits + misses
    rate = hits / lookups if lookups else None
    status: Literal["ok", "below target", "no traffic"]
    status = "ok" if rate is not None and rate >= spec.hit_rate_target else "below target"
    if rate is None:
        status = "no traffic"
    return CacheStats(
        redis=target.url,
        mode="cluster" if target.cluster else "standalone",
        hits=hits,
        misses=misses,
        lookups=lookups,
        hit_rate=rate,
        target=spec.hit_rate_target,
        status=status,
        nodes=nodes,
    )
