"""Redis: readings from a live server (:class:`RedisFacts`) and their checks.

Kernel settings Redis cares about (``vm.overcommit_memory``, transparent huge pages, ``somaxconn``)
come from :class:`~vendzz_migrate.preflight.host.HostFacts`: run preflight on the Redis host too.
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

from pydantic import BaseModel

from vendzz_migrate.preflight.host import HostFacts
from vendzz_migrate.preflight.model import (
    Area,
    Check,
    Status,
    ceiling_status,
    ceiling_text,
    floor_status,
    floor_text,
    gib,
    human_bytes,
    make_check,
    on_miss,
    skip_check,
)
from vendzz_migrate.preflight.profile import RedisProfile
from vendzz_migrate.urls import mask_text


class RedisFacts(BaseModel):
    reachable: bool
    error: str = ""
    version: str = ""
    latency_ms: float = 0.0
    aof_enabled: bool = False
    save: str | None = None
    appendfsync: str | None = None
    maxmemory: int = 0
    maxmemory_policy: str = ""
    maxclients: int = 0
    tcp_backlog: int | None = None
    dir: str | None = None  # where the RDB and AOF files go (CONFIG GET dir)
    cluster_enabled: bool = False
    cluster_state: str = ""
    cluster_nodes: int = 0


def read_redis_facts(url: str, connect_timeout_s: int = 10) -> RedisFacts:
    """Connect and read INFO / CONFIG GET; an unreachable server is a fact, not an error."""
    import redis

    from vendzz_migrate.retry import policy

    client = redis.Redis.from_url(
        url, socket_connect_timeout=connect_timeout_s, decode_responses=True
    )
    try:
        policy(attempts=2, budget_s=connect_timeout_s)(client.ping)
        facts = _facts(client)
    except redis.RedisError as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return RedisFacts(reachable=False, error=mask_text(first))
    finally:
        client.close()
    return facts


def _facts(client: Any) -> RedisFacts:
    info = client.info("everything")
    facts = RedisFacts(
        reachable=True,
        version=str(info.get("redis_version", "")),
        latency_ms=_latency(client),
        aof_enabled=int(info.get("aof_enabled", 0)) == 1,
        maxmemory=int(info.get("maxmemory", 0)),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        maxclients=int(info.get("maxclients", 0)),
        cluster_enabled=int(info.get("cluster_enabled", 0)) == 1,
    )
    config = _config(client, "save", "appendfsync", "tcp-backlog", "maxclients", "dir")
    facts.save = config.get("save")
    facts.dir = config.get("dir")
    facts.appendfsync = config.get("appendfsync")
    facts.tcp_backlog = int(config["tcp-backlog"]) if "tcp-backlog" in config else None
    facts.maxclients = facts.maxclients or int(config.get("maxclients", 0))
    if facts.cluster_enabled:
        cluster = client.execute_command("CLUSTER INFO")
        facts.cluster_state = str(cluster.get("cluster_state", ""))
        facts.cluster_nodes = int(cluster.get("cluster_known_nodes", 0))
    return facts


def _config(client: Any, *names: str) -> dict[str, str]:
    """CONFIG GET, or nothing when the command is renamed or denied (managed Redis)."""
    import redis

    found: dict[str, str] = {}
    for name in names:
        try:
            found.update(client.config_get(name))
        except redis.ResponseError:
            continue
    return found


def _latency(client: Any, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


_check = partial(make_check, Area.REDIS)


def redis_checks(
    facts: RedisFacts, profile: RedisProfile, *, url: str, host: HostFacts | None
) -> list[Check]:
    """Checks of one server; ``host`` is the Redis node preflight runs on (``--role redis``),
    ``None`` elsewhere: the node's kernel settings are then listed as not run."""
    checks = [_reachable(facts, url)]
    if not facts.reachable:
        return checks
    checks += [_version(facts, profile), _latency_check(facts, profile)]
    checks += _persistence(facts, profile)
    if profile.memory != "off":
        checks += _memory(facts, profile)
    if profile.ha != "off" or facts.cluster_enabled:
        checks.append(_cluster(facts, profile))
    if profile.kernel != "off":
        checks += kernel_checks(host, profile, facts.tcp_backlog) if host else _kernel_skipped()
    return checks


_KERNEL = {
    "overcommit": "vm.overcommit_memory",
    "thp": "transparent huge pages",
    "somaxconn": "net.core.somaxconn",
}


def _kernel_skipped() -> list[Check]:
    why = "a setting of the Redis node's kernel: not run from this machine"
    remedy = "run `vendzz-migrate preflight --role redis` on each Redis node"
    return [skip_check(Area.REDIS, cid, title, why, remedy) for cid, title in _KERNEL.items()]


def _reachable(facts: RedisFacts, url: str) -> Check:
    status = Status.PASS if facts.reachable else Status.FAIL
    measured = f"PING answered by {mask_text(url)}" if facts.reachable else facts.error
    return _check(
        "reachable",
        "reachable",
        status,
        measured,
        "PING answers",
        "start Redis, open the firewall, or fix REDIS_URL / --redis",
    )


def _version(facts: RedisFacts, profile: RedisProfile) -> Check:
    ok = _version_tuple(facts.version) >= _version_tuple(profile.min_version)
    return _check(
        "version",
        "server version",
        Status.PASS if ok else Status.FAIL,
        facts.version,
        f">= {profile.min_version}",
        f"upgrade Redis to {profile.min_version} or later",
    )


def _latency_check(facts: RedisFacts, profile: RedisProfile) -> Check:
    return _check(
        "latency",
        "round-trip latency",
        ceiling_status(facts.latency_ms, profile.latency_ms),
        f"{facts.latency_ms:.2f} ms (median of 5 PING)",
        ceiling_text(profile.latency_ms, " ms"),
        "put the app servers in the same network/zone as Redis",
    )


def _persistence(facts: RedisFacts, profile: RedisProfile) -> list[Check]:
    checks = []
    if profile.aof != "off":
        checks.append(
            _check(
                "aof",
                "AOF persistence",
                Status.PASS if facts.aof_enabled else on_miss(profile.aof),
                f"appendonly {'yes' if facts.aof_enabled else 'no'}",
                "appendonly yes",
                "CONFIG SET appendonly yes, then put `appendonly yes` in redis.conf",
            )
        )
        fsync_ok = facts.appendfsync == profile.appendfsync
        checks.append(
            _check(
                "appendfsync",
                "AOF fsync policy",
                Status.PASS if fsync_ok else on_miss(profile.aof),
                f"appendfsync {facts.appendfsync or 'unreadable (CONFIG GET denied)'}",
                f"appendfsync {profile.appendfsync}",
                f"set `appendfsync {profile.appendfsync}` in redis.conf",
            )
        )
    if profile.rdb != "off":
        ok = bool(facts.save and facts.save.strip())
        checks.append(
            _check(
                "rdb",
                "RDB snapshots",
                Status.PASS if ok else on_miss(profile.rdb),
                f"save '{facts.save}'"
                if facts.save is not None
                else "unreadable (CONFIG GET denied)",
                "a save policy (e.g. save 900 1 300 10 60 10000)",
                "CONFIG SET save '900 1 300 10 60 10000' and keep it in redis.conf",
            )
        )
    return checks


def _memory(facts: RedisFacts, profile: RedisProfile) -> list[Check]:
    miss = on_miss(profile.memory)
    if facts.maxmemory == 0:
        status, measured = miss, "0 (unlimited: Redis can exhaust the host)"
    else:
        status = floor_status(gib(facts.maxmemory), profile.maxmemory_gb)
        measured = human_bytes(facts.maxmemory)
    policy_ok = facts.maxmemory_policy in profile.maxmemory_policies
    return [
        _check(
            "maxmemory",
            "maxmemory",
            status,
            measured,
            f"set, {floor_text(profile.maxmemory_gb, ' GiB')}",
            "set maxmemory to what the Redis host can give (spec: 4 GB+)",
        ),
        _check(
            "maxmemory_policy",
            "maxmemory-policy",
            Status.PASS if policy_ok else miss,
            facts.maxmemory_policy,
            " or ".join(profile.maxmemory_policies),
            f"CONFIG SET maxmemory-policy {profile.maxmemory_policies[0]} (queues must not evict)",
        ),
    ]


def _cluster(facts: RedisFacts, profile: RedisProfile) -> Check:
    if facts.cluster_enabled:
        ok = facts.cluster_state == "ok" and facts.cluster_nodes >= profile.nodes
        status = Status.PASS if ok else Status.FAIL
        measured = f"cluster_state {facts.cluster_state}, {facts.cluster_nodes} nodes"
    else:
        status = Status.PASS if profile.nodes <= 1 else on_miss(profile.ha)
        measured = "single node (cluster_enabled:0)"
    return _check(
        "cluster",
        "cluster / HA",
        status,
        measured,
        f"cluster_state ok with >= {profile.nodes} nodes",
        f"run a {profile.nodes}-node Redis cluster (or Sentinel) for HA",
    )


def kernel_checks(host: HostFacts, profile: RedisProfile, tcp_backlog: int | None) -> list[Check]:
    """vm.overcommit_memory = 1, THP not ``always``, somaxconn >= Redis' tcp-backlog (this host)."""
    miss = on_miss(profile.kernel)
    backlog = tcp_backlog or 511
    return [
        _check(
            "overcommit",
            "vm.overcommit_memory (this host)",
            Status.PASS if host.overcommit_memory == 1 else miss,
            str(host.overcommit_memory),
            "1 (so BGSAVE / AOF rewrite can fork)",
            "sysctl vm.overcommit_memory=1 (and in /etc/sysctl.d)",
        ),
        _check(
            "thp",
            "transparent huge pages (this host)",
            Status.PASS if host.transparent_hugepages in {"never", "madvise"} else miss,
            str(host.transparent_hugepages),
            "never or madvise",
            "echo never > /sys/kernel/mm/transparent_hugepage/enabled",
        ),
        _check(
            "somaxconn",
            "net.core.somaxconn (this host)",
            Status.PASS if (host.somaxconn or 0) >= backlog else miss,
            str(host.somaxconn),
            f">= tcp-backlog ({backlog})",
            f"sysctl net.core.somaxconn={max(backlog, 1024)}",
        ),
    ]
