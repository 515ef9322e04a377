"""Cache lookups (hits, misses) as ``loadtest --redis`` counts them.

Redis INFO's ``keyspace_hits`` / ``keyspace_misses`` are the whole server's counters: Redis keeps
none per database or per client, so on a shared Redis they move with every other client too.
The runner therefore measures how fast other clients move them while no load runs (just before
and just after the load), and each stage's figures are the change over its window less that
background (:func:`vendzz_migrate.loadtest.measure.judge_stages`).
"""

from __future__ import annotations

import time

BACKGROUND_S = 1.5  # each quiet window, before and after the load

Rates = tuple[float, float]  # hits and misses per second


def redis_lookups(url: str, timeout_s: float = 3.0) -> tuple[int, int]:
    """The server's hits and misses so far (redis errors propagate)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        info = client.info("stats")
    finally:
        client.close()
    return int(info["keyspace_hits"]), int(info["keyspace_misses"])


def background(url: str, seconds: float = BACKGROUND_S) -> Rates:
    """Hits and misses per second that other clients cause while the load test sends nothing."""
    first, started = redis_lookups(url), time.monotonic()
    time.sleep(seconds)
    last, span = redis_lookups(url), time.monotonic() - started
    return (last[0] - first[0]) / span, (last[1] - first[1]) / span


def mean(before: Rates, after: Rates | None) -> Rates:
    if after is None:
        return before
    return (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
