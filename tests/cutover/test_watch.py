"""The watch window's thresholds, on the service's Prometheus text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.cutover.rig import write_plan
from vendzz_migrate.cutover.plan import load
from vendzz_migrate.cutover.watch import Sample, p95_ms, parse_metrics, watch

METRICS = """# HELP http_requests_total HTTP requests answered.
http_requests_total{method="POST",route="/api/quizzes/{id}/responses",status_code="201"} 90.0
http_requests_total{method="POST",route="/api/quizzes/{id}/responses",status_code="503"} 10.0
http_request_duration_seconds_bucket{le="0.05",method="POST",route="/r",status_code="201"} 80.0
http_request_duration_seconds_bucket{le="0.1",method="POST",route="/r",status_code="201"} 96.0
http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/r",status_code="201"} 100.0
"""


def test_parse_metrics_counts_errors_and_p95() -> None:
    sample = parse_metrics(METRICS)
    assert sample.requests == 100 and sample.errors == 10
    assert p95_ms(Sample(True), sample) == 100.0


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        (Sample(True, 200, 50, {0.05: 180, 0.1: 196, float("inf"): 200}), "error rate"),
        (Sample(True, 200, 10, {0.05: 100, 0.1: 120, 1.0: 200, float("inf"): 200}), "P95"),
        (Sample(False, 200, 10, {0.05: 180, 0.1: 196, float("inf"): 200}), "health"),
    ],
)
def test_watch_stops_on_a_crossed_threshold(tmp_path: Path, later: Sample, reason: str) -> None:
    plan = load(
        write_plan(
            tmp_path,
            tmp_path / "x.db",
            "postgresql://x@127.0.0.1/x",
            1,
            watch={
                "seconds": 60,
                "interval_seconds": 0.01,
                "max_error_rate": 0.05,
                "max_p95_ms": 500,
            },
        )
    )
    samples = itertools.chain([parse_metrics(METRICS)], itertools.repeat(later, 100))
    report = watch(plan, lambda _plan: next(samples))
    assert not report.ok and reason in report.reason


def test_watch_passes_a_quiet_window(tmp_path: Path) -> None:
    plan = load(
        write_plan(
            tmp_path,
            tmp_path / "x.db",
            "postgresql://x@127.0.0.1/x",
            1,
            watch={"seconds": 0.05, "interval_seconds": 0.01},
        )
    )
    report = watch(plan, lambda _plan: parse_metrics(METRICS))
    assert report.ok and report.checks >= 2 and report.requests == 0


def test_the_window_can_be_watched_by_monitor(tmp_path: Path, pg_url: str) -> None:
    """``watch.monitor_profile``: the window is `vendzz-migrate monitor` (the spec's alert rules
    and uptime target) on a real service; once the service is down it misses it, with why."""
    from tests.loadtest.servers import running_app
    from vendzz_migrate.cutover.watch import monitor_watch

    with running_app() as app:
        port = int(app.url.rsplit(":", 1)[1])
        window = {"seconds": 1.0, "interval_seconds": 0.2, "monitor_profile": "dev"}
        plan = load(write_plan(tmp_path, tmp_path / "x.db", pg_url, port, watch=window))
        quiet = monitor_watch(plan)
    failing = monitor_watch(plan)  # the service stopped: nothing answers on its port
    assert quiet.ok and quiet.checks >= 3, quiet
    assert not failing.ok and "uptime" in failing.reason, failing
