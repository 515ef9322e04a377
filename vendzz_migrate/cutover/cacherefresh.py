"""Inside the freeze: delete the Redis keys of rows changed since the copy.

warm-cache filled Redis from PostgreSQL before the freeze; rows that changed since then have
stale keys. For each cache of the spec whose key names one column (``vendzz:quiz:{id}``) and
whose query reads one table (its first ``FROM``), the keys of that table's changed primary keys
are deleted (a deleted key is refilled by the service's read-through cache on its next read, from
PostgreSQL, which now holds the row). Caches keyed otherwise (several columns, or aggregates) are
listed as not refreshed, so the operator knows what may be stale until its TTL.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from vendzz_migrate.cache.spec import load_spec, parse_template
from vendzz_migrate.cutover import capture, delta
from vendzz_migrate.cutover.plan import CutoverPlan
from vendzz_migrate.errors import TargetError

_FROM = re.compile(r'\bFROM\s+(?:"?[\w]+"?\.)?"?(\w+)"?', re.I)


def refresh(plan: CutoverPlan, lite: sqlite3.Connection, after: int) -> dict[str, Any]:
    """``lite``: a reader of the frozen file; ``after``: the copy's high-water mark."""
    url = plan.cache_url()
    if plan.cache_spec is None or not url:
        return {"skipped": "no cache_spec or redis_url in the plan"}
    import redis

    spec = load_spec(plan.cache_spec)
    changed = capture.changed_keys(lite, after, capture.high_water(lite))
    keys: list[str] = []
    stale: list[str] = []
    for cache in spec.caches:
        template = parse_template(cache.key)
        found = _FROM.search(cache.query or "")
        table = found.group(1) if found else None
        if len(template.columns) != 1 or table is None:
            stale.append(cache.name)
            continue
        literals = changed.get(table, [])
        for raw in delta._key_raws(lite, literals, 1) if literals else []:
            value = raw[0].value
            text = value.decode() if isinstance(value, bytes) else str(value)
            keys.append("".join(lit + (text if col else "") for lit, col in template.parts))
    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        deleted = 0
        for start in range(0, len(keys), 1000):
            deleted += int(client.delete(*keys[start : start + 1000]))
    except redis.RedisError as exc:
        raise TargetError(f"Redis: deleting the changed rows' keys: {exc}") from None
    finally:
        client.close()
    return {"keys_checked": len(keys), "keys_deleted": deleted, "not_refreshed": stale}
