"""Typed results of warm-cache and cache-stats (rendered by the CLI, also as JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: Redis memory per key beyond the size of its RESP command (dict entries, object headers, the
#: expires entry, jemalloc size classes). Measured on Redis 7.0: 300,000 SET ... EX commands of
#: 407 bytes on average (341-byte JSON values) took 531 bytes per key of used_memory.
OVERHEAD_PER_KEY = 128


class CacheReport(BaseModel):
    """One cache of one run."""

    name: str
    encoding: str
    status: Literal["written", "skipped", "planned", "failed"]
    reason: str | None = None
    rows: int = Field(default=0, description="Rows the query returned.")
    skipped_rows: int = Field(default=0, description="Rows with a NULL key column or a TTL <= 0.")
    keys: int = Field(default=0, description="Keys written (planned: keys that would be written).")
    bytes: int = Field(default=0, description="Bytes sent to Redis (RESP commands).")
    estimated_bytes: int = Field(default=0, description="Estimated Redis memory for these keys.")
    seconds: float = 0.0
    keys_per_s: float = 0.0
    errors: int = 0
    first_error: str | None = None
    pruned: int = Field(default=0, description="Stale keys of this cache deleted after writing.")
    ttl_s: int = 0
    jitter_s: int = 0
    sample_keys: list[str] = Field(default_factory=list)


class WarmReport(BaseModel):
    """A whole warm-cache run (or a dry run)."""

    database: str
    redis: str | None
    mode: Literal["standalone", "cluster", "none"]
    nodes: list[str] = Field(default_factory=list)
    dry_run: bool = False
    caches: list[CacheReport] = Field(default_factory=list)
    keys: int = 0
    seconds: float = 0.0
    keys_per_s: float = 0.0


class NodeStats(BaseModel):
    address: str
    hits: int
    misses: int
    keys: int
    used_memory: int
    maxmemory: int


class CacheStats(BaseModel):
    """Hit rate from INFO stats: server-wide, since the last restart or CONFIG RESETSTAT."""

    redis: str
    mode: Literal["standalone", "cluster"]
    hits: int
    misses: int
    lookups: int
    hit_rate: float | None
    target: float
    status: Literal["ok", "below target", "no traffic"]
    nodes: list[NodeStats]
