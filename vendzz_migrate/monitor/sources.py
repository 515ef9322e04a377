"""What the monitor polls, each turned into Prometheus-named samples in the store.

The service's health endpoint (up or down, its JSON), its ``/metrics`` (the counters and the
latency histogram, in the Prometheus text format), the host (psutil: what node_exporter would
report), PostgreSQL (``pg_stat_activity`` against ``max_connections``: what postgres_exporter
reports) and Redis (``INFO`` keyspace hits and misses). A source that fails is recorded as
down for that poll; nothing here raises past :func:`poll`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from vendzz_migrate.errors import VendzzError
from vendzz_migrate.loadtest.lookups import redis_lookups
from vendzz_migrate.monitor.promql import Store
from vendzz_migrate.urls import http_request

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
WANTED = ("http_requests_total", "http_request_duration_seconds_bucket")
# PRODUCTION-SPEC.md: status, timestamp, uptime, memory usage, pool connection count, cache stats
HEALTH_FIELDS = ("status", "timestamp", "uptime", "memory", "connections", "cache")


@dataclass
class Poll:
    """One round of polling: what answered, and how."""

    t: float
    up: bool
    health_ms: float | None = None
    health: dict[str, Any] | None = None
    error: str | None = None
    metrics: bool = False
    postgres: bool | None = None
    redis: bool | None = None
    redis_hits: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


def metrics_url(health_url: str) -> str:
    parts = urlsplit(health_url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    request = http_request(url, {"User-Agent": "vendzz-migrate-monitor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read(8_000_000)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(100_000) if exc.fp else b""


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of the metrics the rules use, from the Prometheus text format."""
    out = []
    for line in text.splitlines():
        if not line.startswith(WANTED):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            continue
    return out


def poll_health(url: str, timeout: float, t: float) -> Poll:
    started = time.perf_counter()
    try:
        status, body = _get(url, timeout)
    except (OSError, ValueError) as exc:
        return Poll(t=t, up=False, error=f"{type(exc).__name__}: {exc}"[:200])
    ms = (time.perf_counter() - started) * 1000
    health: dict[str, Any] | None = None
    try:
        document = json.loads(body)
        health = document if isinstance(document, dict) else None
    except ValueError:
        pass
    up = 200 <= status < 300
    return Poll(t=t, up=up, health_ms=ms, health=health, error=None if up else f"HTTP {status}")


def poll_metrics(url: str, timeout: float, store: Store, t: float) -> bool:
    try:
        status, body = _get(url, timeout)
    except (OSError, ValueError):
        return False
    if status != 200:
        return False
    samples = parse_metrics(body.decode("utf-8", errors="replace"))
    for name, labels, value in samples:
        store.add(name, labels, t, value)
    return bool(samples)


def poll_host(store: Store, t: float, instance: str) -> None:
    for i, times in enumerate(psutil.cpu_times(percpu=True)):
        store.add(
            "node_cpu_seconds_total",
            {"cpu": str(i), "mode": "idle", "instance": instance},
            t,
            times.idle,
        )
    memory = psutil.virtual_memory()
    store.add("node_memory_MemAvailable_bytes", {"instance": instance}, t, memory.available)
    store.add("node_memory_MemTotal_bytes", {"instance": instance}, t, memory.total)


_PG_SQL = "SELECT (SELECT count(*) FROM pg_stat_activity), current_setting('max_connections')::int"


class PgProbe:
    """One monitoring connection, kept between polls and opened again after a failure."""

    def __init__(self, url: str, instance: str = "postgres") -> None:
        self.url, self.instance = url, instance
        self.conn: Any = None

    def poll(self, store: Store, t: float) -> bool:
        import psycopg

        from vendzz_migrate import pg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = pg.connect(
                    self.url, command="monitor", autocommit=True, timeout_s=3, attempts=1
                )
            row = self.conn.execute(_PG_SQL).fetchone()
        except (psycopg.Error, VendzzError):
            self.close()
            return False
        if row is None:
            return False
        store.add("pg_stat_activity_count", {"instance": self.instance}, t, float(row[0]))
        store.add("pg_settings_max_connections", {"instance": self.instance}, t, float(row[1]))
        return True

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                self.conn.close()
            self.conn = None


def poll_redis(url: str) -> tuple[int, int] | None:
    """Redis INFO's keyspace hits and misses, or None when it does not answer."""
    import redis

    try:
        return redis_lookups(url)
    except (redis.RedisError, OSError):
        return None
