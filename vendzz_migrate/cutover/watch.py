"""The watch window after the freeze is lifted: health, error rate and P95 of the service.

A :class:`Probe` reads one sample; the window compares the difference between the first and the
latest sample (counters only grow) against the plan's thresholds. The default probe reads the
service's ``/health`` and Prometheus ``/metrics`` (``http_requests_total{status_code}``,
``http_request_duration_seconds`` buckets). This is the seam for ``vendzz_migrate.monitor``:
any callable returning a :class:`Sample` can replace it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from vendzz_migrate.cutover import hooks
from vendzz_migrate.cutover.plan import CutoverPlan


@dataclass
class Sample:
    healthy: bool
    requests: float = 0.0  # all answered requests so far
    errors: float = 0.0  # 5xx so far
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count


Probe = Callable[[CutoverPlan], Sample]

_LINE = re.compile(r"^(\w+)(?:\{(.*)\})?\s+([0-9.eE+-]+|NaN|\+Inf)\s*$")


def parse_metrics(text: str) -> Sample:
    sample = Sample(healthy=True)
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        if name == "http_requests_total":
            sample.requests += value
            if re.search(r'status_code="5\d\d"', labels):
                sample.errors += value
        elif name == "http_request_duration_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels)
            if le:
                bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
                sample.buckets[bound] = sample.buckets.get(bound, 0.0) + value
    return sample


def service_probe(plan: CutoverPlan) -> Sample:
    healthy, _detail = hooks.health(plan)
    try:
        status, body = hooks.http(
            "GET", plan.service.url.rstrip("/") + plan.service.metrics_path, timeout=5
        )
    except hooks.HookError:
        return Sample(healthy=False)
    sample = parse_metrics(body.decode("utf-8", "replace")) if status == 200 else Sample(True)
    sample.healthy = healthy
    return sample


def p95_ms(first: Sample, last: Sample) -> float | None:
    """P95 of the requests between two samples, from histogram bucket differences."""
    diff = sorted(
        (le, last.buckets.get(le, 0.0) - first.buckets.get(le, 0.0)) for le in last.buckets
    )
    total = diff[-1][1] if diff else 0.0
    if total <= 0:
        return None
    for le, count in diff:
        if count >= 0.95 * total:
            return le * 1000 if le != float("inf") else None
    return None


class WatchReport(BaseModel):
    seconds: float
    checks: int
    unhealthy: int
    requests: float
    errors: float
    error_rate: float | None
    p95_ms: float | None
    ok: bool
    reason: str = ""


def watch(plan: CutoverPlan, probe: Probe = service_probe) -> WatchReport:
    """Sample the service for the plan's window; stop early when a threshold is crossed."""
    started = time.monotonic()
    first = probe(plan)
    checks, unhealthy = 1, int(not first.healthy)
    last = first
    while True:
        report = _judge(plan, first, last, checks, unhealthy, time.monotonic() - started)
        if not report.ok or time.monotonic() - started >= plan.watch.seconds:
            return report
        time.sleep(plan.watch.interval_seconds)
        last = probe(plan)
        checks += 1
        unhealthy += not last.healthy


def _judge(
    plan: CutoverPlan, first: Sample, last: Sample, checks: int, unhealthy: int, seconds: float
) -> WatchReport:
    requests = last.requests - first.requests
    errors = last.errors - first.errors
    rate = errors / requests if requests > 0 else None
    p95 = p95_ms(first, last)
    reason = ""
    if checks >= 3 and unhealthy / checks > plan.watch.max_error_rate:
        reason = f"{unhealthy} of {checks} health checks failed"
    elif rate is not None and requests >= 20 and rate > plan.watch.max_error_rate:
        reason = f"error rate {rate:.1%} over {plan.watch.max_error_rate:.1%}"
    elif plan.watch.max_p95_ms is not None and p95 is not None and p95 > plan.watch.max_p95_ms:
        reason = f"P95 {p95:.0f} ms over {plan.watch.max_p95_ms:g} ms"
    return WatchReport(
        seconds=seconds,
        checks=checks,
        unhealthy=unhealthy,
        requests=requests,
        errors=errors,
        error_rate=rate,
        p95_ms=p95,
        ok=not reason,
        reason=reason,
    )


def monitor_watch(plan: CutoverPlan) -> WatchReport:
    """The window as ``vendzz-migrate monitor`` watches it (``watch.monitor_profile``)."""
    from vendzz_migrate import monitor
    from vendzz_migrate.errors import AlertsFired

    options = monitor.Options(
        url=plan.service.url.rstrip("/") + plan.service.health_path,
        duration_s=max(plan.watch.seconds, 2 * plan.watch.interval_seconds),
        interval_s=plan.watch.interval_seconds,
        profile=plan.watch.monitor_profile or "production-1000",
        database_url=plan.target_url(),
        redis_url=plan.cache_url(),
        rate_window_s=min(60.0, max(plan.watch.seconds, 2 * plan.watch.interval_seconds)),
    )
    try:
        report = monitor.run(options)
    except AlertsFired as exc:  # the window's verdict, judged below
        report = exc.report
    reasons = [f"alert {a.alert} fired (peak {a.peak:g}, {a.threshold})" for a in report.alerts]
    if not report.uptime_met:
        reasons.append(f"uptime {report.uptime_pct:.2f}% under {report.uptime_target_pct}%")
    reasons += [f"{name} did not answer" for name, n in report.unreachable.items() if n]
    if report.passed and reasons:  # passed is the monitor's verdict; reasons only explain it
        reasons = []
    if not report.passed and not reasons:
        reasons = ["the monitor's verdict (see its report)"]
    return WatchReport(
        seconds=report.duration_s,
        checks=report.polls,
        unhealthy=report.polls - report.up_polls,
        requests=0.0,
        errors=0.0,
        error_rate=None,
        p95_ms=report.worst_p95_ms,
        ok=report.passed,
        reason="; ".join(reasons),
    )
