"""Warm Redis from PostgreSQL (warm-cache) and report the hit rate (cache-stats).

Library API, the same names the CLI uses::

    from vendzz_migrate.cache import load_spec, warm, stats
    report = warm(settings, load_spec(None), only=["quiz"], dry_run=True)
"""

from __future__ import annotations

from vendzz_migrate.cache.models import CacheReport, CacheStats, NodeStats, WarmReport
from vendzz_migrate.cache.spec import CacheDef, CacheSpec, load_spec
from vendzz_migrate.cache.stats import stats
from vendzz_migrate.cache.warm import warm

__all__ = [
    "CacheDef",
    "CacheReport",
    "CacheSpec",
    "CacheStats",
    "NodeStats",
    "WarmReport",
    "load_spec",
    "stats",
    "warm",
]
