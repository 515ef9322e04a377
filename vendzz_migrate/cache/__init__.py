"""Warm Redis from PostgreSQL (warm-cache) and report the hit rate (cache-stats).

Library API, the same names the CLI uses::

    from vendzz_migrate.cache import WarmOptions, load_spec, warm, stats
    opts = WarmOptions.from_settings(settings, spec=load_spec(None), only=["quiz"], dry_run=True)
    report = warm(opts)              # KeysNotWritten (with .report) when Redis refused keys
"""

from __future__ import annotations

from vendzz_migrate.cache.models import CacheReport, CacheStats, NodeStats, WarmReport
from vendzz_migrate.cache.spec import CacheDef, CacheSpec, load_spec
from vendzz_migrate.cache.stats import stats
from vendzz_migrate.cache.warm import WarmOptions, warm

__all__ = [
    "CacheDef",
    "CacheReport",
    "CacheSpec",
    "CacheStats",
    "NodeStats",
    "WarmOptions",
    "WarmReport",
    "load_spec",
    "stats",
    "warm",
]
