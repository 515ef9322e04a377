"""From the engine's buckets to stage results: percentiles, rates, saturation and verdicts.

A stage's measurement window is its duration less its ramp; requests count in the window in
which they started (in the open model: were scheduled to start), bucketed by quarter second.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from vendzz_migrate.loadtest.lookups import Rates
from vendzz_migrate.loadtest.model import Point, StageResult, Verdict
from vendzz_migrate.preflight.profile import Targets

BUCKETS_PER_S = 4  # the engine's
SATURATED_CPU_PCT = 80.0
BUSY_HOST_PCT = 90.0
OTHERS_MAX_SHARE = 0.5  # other clients' part of a window's Redis lookups beyond which: unjudged

Bucket = tuple[int, int, dict[int, int]]
Lookups = tuple[int, int]  # cache hits, misses


def latency_ms(key: int) -> float:
    return math.expm1(key / 100)


def percentile(hist: dict[int, int], q: float) -> float | None:
    total = sum(hist.values())
    if total == 0:
        return None
    rank, seen = q * total, 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= rank:
            return round(latency_ms(key), 2)
    return round(latency_ms(max(hist)), 2)


def _buckets(data: dict[str, Any]) -> dict[int, Bucket]:
    out: dict[int, Bucket] = {}
    for idx, n, fail, hist in data.get("buckets", []):
        out[int(idx)] = (int(n), int(fail), {int(k): int(c) for k, c in hist})
    return out


def _merge(parts: list[Bucket]) -> Bucket:
    hist: dict[int, int] = defaultdict(int)
    for _, _, h in parts:
        for k, c in h.items():
            hist[k] += c
    return sum(p[0] for p in parts), sum(p[1] for p in parts), dict(hist)


def _window(buckets: dict[int, Bucket], start: float, end: float) -> tuple[list[Bucket], float]:
    first = math.ceil(start * BUCKETS_PER_S)
    last = math.floor(end * BUCKETS_PER_S)  # exclusive
    parts = [buckets[i] for i in range(first, last) if i in buckets]
    return parts, max(last - first, 0) / BUCKETS_PER_S


def _timeline(buckets: dict[int, Bucket], start: float, end: float) -> list[Point]:
    points = []
    second = 0
    while start + second < end:
        parts, span = _window(buckets, start + second, min(start + second + 1, end))
        n, fail, hist = _merge(parts)
        if span > 0:
            points.append(
                Point(
                    t=second,
                    rps=round(n / span, 2),
                    p50_ms=percentile(hist, 0.5),
                    p95_ms=percentile(hist, 0.95),
                    errors=fail,
                )
            )
        second += 1
    return points


def _cpu(result: dict[str, Any], start: float, end: float) -> tuple[float, bool]:
    by_proc: dict[str, list[float]] = defaultdict(list)
    for t, label, pct in result.get("cpu", []):
        if start <= t <= end:
            by_proc[label].append(float(pct))
    worst = max((sum(v) / len(v) for v in by_proc.values() if v), default=0.0)
    warned = any(start <= t <= end for t in result.get("cpu_warnings", []))
    return round(worst, 1), warned


def _host_cpu(result: dict[str, Any], start: float, end: float) -> float | None:
    values = [float(pct) for t, pct in result.get("host_cpu", []) if start <= t <= end]
    return round(sum(values) / len(values), 1) if values else None


def _arrivals(data: dict[str, Any], start: float, end: float, span: float) -> float | None:
    if not data.get("arrivals") or span <= 0:
        return None
    first, last = math.ceil(start * BUCKETS_PER_S), math.floor(end * BUCKETS_PER_S)
    n = sum(int(c) for i, c in data["arrivals"] if first <= int(i) < last)
    return round(n / span, 2)


def _lookups(raw: dict[str, Any], background: Rates | None, notes: list[str]) -> Lookups | None:
    """Hits and misses the load test caused in the stage's window: the counters' change, less
    what other clients moved them by over the same time (``background``, per second)."""
    a, b = raw.get("redis_start"), raw.get("redis_end")
    if not a or not b:
        return None
    hits, misses = b[0] - a[0], b[1] - a[1]
    if hits < 0 or misses < 0:  # a counter went back: the server (or service) restarted
        return None
    if background is None:
        return hits, misses
    window = float(raw["end"]) - float(raw["measure_start"])
    others = background[0] * window, background[1] * window
    if sum(others) > OTHERS_MAX_SHARE * (hits + misses):
        notes.append(
            f"other clients of this Redis made most of its lookups in the window "
            f"({sum(background):.1f}/s while no load ran): cache hit rate not judged"
        )
        return None
    return max(round(hits - others[0]), 0), max(round(misses - others[1]), 0)


def _cache_fields(own: Lookups | None) -> dict[str, Any]:
    if own is None:
        return {"cache_hits": None, "cache_misses": None, "cache_hit_rate": None}
    hits, misses = own
    rate = None if hits + misses <= 0 else round(hits / (hits + misses), 4)
    return {"cache_hits": hits, "cache_misses": misses, "cache_hit_rate": rate}


def verdicts(stage: StageResult, targets: Targets, mode: str) -> list[Verdict]:
    out = [
        Verdict(
            name="p95",
            measured=stage.p95_ms,
            expected=f"< {targets.p95_ms:g} ms",
            passed=None if stage.p95_ms is None else stage.p95_ms < targets.p95_ms,
        ),
        Verdict(
            name="error rate",
            measured=round(stage.error_rate * 100, 3),
            expected=f"< {targets.error_rate_pct:g} %",
            passed=stage.error_rate * 100 < targets.error_rate_pct,
        ),
    ]
    if mode == "open" and stage.rate is not None:
        kept = stage.arrivals_per_s or 0.0
        out.append(
            Verdict(
                name="arrival rate kept",
                measured=kept,
                expected=f">= {0.95 * stage.rate:g} /s (95 % of --rate)",
                passed=kept >= 0.95 * stage.rate,
            )
        )
    elif stage.users is not None:
        need = targets.throughput_rps * stage.users / 1000
        out.append(
            Verdict(
                name="throughput",
                measured=stage.rps,
                expected=f">= {need:g} req/s ({targets.throughput_rps:g} at 1,000 users)",
                passed=stage.rps >= need,
            )
        )
    hit = None if stage.cache_hit_rate is None else round(stage.cache_hit_rate * 100, 2)
    out.append(
        Verdict(
            name="cache hit rate",
            measured=hit,
            expected=f"> {targets.cache_hit_pct:g} %",
            passed=None if hit is None else hit > targets.cache_hit_pct,
        )
    )
    return out


def _stage(
    raw: dict[str, Any],
    result: dict[str, Any],
    buckets: dict[int, Bucket],
    cfg: dict[str, Any],
    background: Rates | None,
) -> StageResult:
    start, measure, end = float(raw["start"]), float(raw["measure_start"]), float(raw["end"])
    parts, span = _window(buckets, measure, end)
    n, fail, hist = _merge(parts)
    cpu, warned = _cpu(result, measure, end)
    notes = []
    users, reached = raw.get("users"), raw.get("users_reached")
    saturated = cpu >= SATURATED_CPU_PCT or warned
    if saturated:
        notes.append(
            f"generator saturated (CPU {cpu:g} %"
            + (", Locust CPU warning" if warned else "")
            + "), not a measurement of the service"
        )
    if users is not None and reached is not None and reached < users:
        saturated = True
        notes.append(f"only {reached} of {users} users were running after the ramp")
    host = _host_cpu(result, measure, end)
    if host is not None and host >= BUSY_HOST_PCT:
        notes.append(
            f"this machine's CPU was {host:g} % busy: a service running here waited "
            "for CPU too (figures of this machine, not of the service alone)"
        )
    if raw.get("interrupted"):
        notes.append("interrupted: partial stage")
    cache = _cache_fields(_lookups(raw, background, notes))
    return StageResult(
        index=int(raw["index"]),
        users=users,
        rate=raw.get("rate"),
        duration_s=float(cfg["duration_s"]),
        ramp_s=float(cfg["ramp_s"]),
        measured_s=span,
        users_reached=reached,
        requests=n,
        failures=fail,
        p50_ms=percentile(hist, 0.5),
        p95_ms=percentile(hist, 0.95),
        p99_ms=percentile(hist, 0.99),
        max_ms=percentile(hist, 1.0),
        rps=round(n / span, 2) if span > 0 else 0.0,
        arrivals_per_s=_arrivals(result.get("data", {}), measure, end, span),
        error_rate=round(fail / n, 6) if n else 0.0,
        **cache,
        generator_cpu_pct=cpu,
        host_cpu_pct=host,
        saturated=saturated,
        notes=notes,
        passed=False,
        interrupted=bool(raw.get("interrupted")),
        timeline=_timeline(buckets, start, end),
    )


def judge_stages(
    result: dict[str, Any] | None,
    config: dict[str, Any],
    targets: Targets,
    mode: str,
    background: Rates | None = None,
) -> tuple[list[StageResult], list[str]]:
    """Stage results with their verdicts; a stage passes when every measured target is met,
    it saw requests, and its generator was not saturated. ``background``: the Redis lookups
    per second of other clients (``--redis``), taken off each stage's."""
    if result is None:
        return [], ["interrupted before the first stage finished"]
    buckets = _buckets(result.get("data", {}))
    stages = []
    for raw in result.get("stages", []):
        if "end" not in raw:
            continue
        stage = _stage(raw, result, buckets, config["stages"][int(raw["index"])], background)
        stage.verdicts = verdicts(stage, targets, mode)
        stage.passed = (
            stage.requests > 0
            and not stage.saturated
            and not stage.interrupted
            and all(v.passed is not False for v in stage.verdicts)
        )
        stages.append(stage)
    notes = []
    if background is not None:
        notes.append(
            "cache figures from Redis INFO, which counts every client of the server: each "
            "stage's is the change over its window less the other clients' "
            f"{sum(background):.1f} lookups/s measured just before and after the load"
        )
    elif any(s.cache_hit_rate is None for s in stages):
        notes.append(
            "cache hit rate not measured (no cache counters in /health; give --redis "
            "REDIS_URL): not judged"
        )
    return stages, notes
