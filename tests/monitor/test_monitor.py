"""monitor against real things: a slowed service, a pile of PostgreSQL connections, a restart.

The monitor runs in a thread with short windows; the test waits for its own events (firing,
resolved, down, up) on a queue, bounded in time, then stops it.
"""

from __future__ import annotations

import queue
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from typer.testing import CliRunner, Result

from tests.loadtest.servers import App, free_port
from tests.support import ctrl_c_cli
from vendzz_migrate import monitor
from vendzz_migrate.cli import app as cli
from vendzz_migrate.errors import AlertsFired, ExitCode
from vendzz_migrate.monitor.sources import HEALTH_FIELDS
from vendzz_migrate.preflight.profile import packaged_text

WAIT_S = 30


def profile(tmp_path: Path, **alerts: Any) -> Path:
    data = yaml.safe_load(packaged_text("dev"))
    data["name"] = "test-monitor"
    data["alerts"] = {"cpu_for": "1h", "ram_for": "1h", **alerts}
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def watch_options(app: App, profile_path: Path, **over: Any) -> monitor.Options:
    """A two-minute watch of the app's /health, polled every 0.5 s, rates over 2 s."""
    fields: dict[str, Any] = {"duration_s": 120, "interval_s": 0.5, "rate_window_s": 2, **over}
    return monitor.Options(url=app.url + "/health", profile=profile_path, **fields)


def monitor_args(url: str, *extra: str, duration: str = "1s", interval: str = "0.25s") -> list[str]:
    """``vendzz-migrate monitor`` over a short window (rates over 1 s), then ``extra``."""
    return [
        *("monitor", "--url", url, "--duration", duration, "--interval", interval),
        *("--rate-window", "1s", *extra),
    ]


def run_cli(url: str, *extra: str, **window: str) -> Result:
    return CliRunner().invoke(cli, monitor_args(url, *extra, **window))


@contextmanager
def watching(
    options: monitor.Options,
) -> Iterator[tuple[queue.Queue[dict[str, Any]], list[monitor.MonitorReport]]]:
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop, result = threading.Event(), []

    def run() -> None:
        """The report, returned when the watch passed, carried by AlertsFired when not (a
        failed report returned leaves ``result`` empty: the convention is broken)."""
        try:
            report = monitor.run(options, lambda e: events.put(dict(e.fields)), stop)
        except AlertsFired as exc:
            result.append(exc.report)
        else:
            if report.passed or report.interrupted:
                result.append(report)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield events, result
    finally:
        stop.set()
        thread.join(30)


def wait_for(events: queue.Queue[dict[str, Any]], kind: str, alert: str | None = None) -> None:
    while True:
        event = events.get(timeout=WAIT_S)
        if event["event"] == kind and (alert is None or event.get("alert") == alert):
            return


@contextmanager
def traffic(url: str) -> Iterator[None]:
    """A client requesting the app in a loop (bounded: at most 2,000 requests)."""
    done = threading.Event()

    def loop() -> None:
        for _ in range(2000):
            if done.is_set():
                return
            try:
                urllib.request.urlopen(url + "/api/quizzes/1", timeout=5).close()
            except OSError:
                done.wait(0.05)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(30)


def test_response_time_alert_fires_and_resolves(app: App, tmp_path: Path) -> None:
    options = watch_options(app, profile(tmp_path, response_time_s=0.1, response_time_for="1s"))
    with traffic(app.url), watching(options) as (events, result):
        app.control(delay_ms=300)
        wait_for(events, "firing", "VendzzSlowResponses")
        app.control(delay_ms=0)
        wait_for(events, "resolved", "VendzzSlowResponses")
    (report,) = result
    slow = [a for a in report.alerts if a.alert == "VendzzSlowResponses"]
    assert slow and slow[0].resolved_at is not None and slow[0].duration_s > 0
    assert report.worst_p95_ms is not None and report.worst_p95_ms > 100
    assert report.passed is False  # an alert fired


def test_connections_alert_fires_and_resolves(app: App, small_pg: str, tmp_path: Path) -> None:
    options = watch_options(app, profile(tmp_path, db_connections_for="1s"), database_url=small_pg)
    with watching(options) as (events, result):
        held = [psycopg.connect(small_pg) for _ in range(12)]  # + background + monitor > 80 %
        try:
            wait_for(events, "firing", "VendzzDatabaseConnections")
        finally:
            for conn in held:
                conn.close()
        wait_for(events, "resolved", "VendzzDatabaseConnections")
    (report,) = result
    assert [a.alert for a in report.alerts] == ["VendzzDatabaseConnections"]
    assert report.max_db_connections_pct is not None and report.max_db_connections_pct > 80


def test_survives_a_restart_as_downtime(app: App, tmp_path: Path) -> None:
    options = watch_options(app, profile(tmp_path), interval_s=0.3, rate_window_s=1)
    with watching(options) as (events, result):
        wait_for(events, "up")
        app.stop()
        wait_for(events, "down")
        app.start()
        wait_for(events, "up")
    (report,) = result
    assert report.downtime_s > 0 and report.uptime_pct < 100
    assert report.up_polls >= 2 and report.polls > report.up_polls
    assert not report.uptime_met and not report.passed


@pytest.mark.parametrize(
    ("alerts", "code"),
    [
        ({"ram_pct": 0.01, "ram_for": "0s"}, ExitCode.CHECK_FAILED),
        ({}, ExitCode.OK),
    ],
)
def test_cli_exit_code_says_whether_an_alert_fired(
    app: App, tmp_path: Path, alerts: dict[str, Any], code: int
) -> None:
    path = profile(tmp_path, **alerts)
    out = tmp_path / "m.json"
    result = run_cli(app.url + "/health", "--profile", str(path), "--json", str(out))
    assert result.exit_code == code, result.output
    report = monitor.MonitorReport.model_validate_json(out.read_text())
    assert report.polls >= 2 and report.uptime_pct == 100
    assert "uptime" in report.missing_health_fields  # the test app's /health is terse
    assert "status" not in report.missing_health_fields
    assert bool(report.alerts) == (code != ExitCode.OK)
    if report.alerts:
        assert "FIRING VendzzHighMemory" in result.output


def test_bad_url_is_one_line() -> None:
    result = CliRunner().invoke(cli, ["monitor", "--url", "localhost/health"])
    assert result.exit_code == ExitCode.CONFIG and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("flag", "value"), [("--target", "db.example/vendzz"), ("--redis", "127.0.0.1:6379")]
)
def test_a_malformed_source_url_is_config(flag: str, value: str) -> None:
    result = run_cli("http://127.0.0.1:1/health", flag, value, interval="0.5s")
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert flag in result.output and "Traceback" not in result.output


def test_a_url_with_credentials_is_watched_and_never_shown(app: App, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    url = app.url.replace("http://", "http://watcher:s3cret@") + "/health"
    result = run_cli(url, "--profile", str(profile(tmp_path)), "--json", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    report = monitor.MonitorReport.model_validate_json(out.read_text())
    assert report.up_polls == report.polls >= 2
    assert "s3cret" not in result.output and "s3cret" not in out.read_text()


def test_a_url_that_is_not_a_health_endpoint_is_said(app: App, tmp_path: Path) -> None:
    """--url pointing at a page that answers 200 without JSON (here /metrics) is up, but the
    summary says that none of the spec's health fields came back."""
    out = tmp_path / "m.json"
    result = run_cli(app.url + "/metrics", "--profile", str(profile(tmp_path)), "--json", str(out))
    report = monitor.MonitorReport.model_validate_json(out.read_text())
    assert report.up_polls >= 2, result.output
    assert report.missing_health_fields == list(HEALTH_FIELDS)
    assert "health answers lack the spec's fields" in result.output


def test_a_json_path_that_cannot_be_written_is_refused_before_the_watch(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    where = str(tmp_path / "file" / "m.json")
    result = run_cli("http://127.0.0.1:1/health", "--json", where, duration="2s", interval="1s")
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "--json" in result.output and "Traceback" not in result.output


def test_a_source_that_never_answers_is_not_a_pass(app: App, tmp_path: Path) -> None:
    """Asked to watch PostgreSQL and Redis and reaching neither, the connections alert was
    never evaluated: the watch cannot pass, and the summary says which source was missing."""
    out = tmp_path / "m.json"
    dead = f"127.0.0.1:{free_port()}"
    result = run_cli(
        app.url + "/health",
        *("--profile", str(profile(tmp_path)), "--json", str(out)),
        *("--target", f"postgresql://watcher:s3cret@{dead}/vendzz"),
        *("--redis", f"redis://:s3cret@{dead}/0"),
    )
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    report = monitor.MonitorReport.model_validate_json(out.read_text())
    assert report.uptime_pct == 100 and not report.alerts and not report.passed
    assert report.unreachable == {"postgres": report.polls, "redis": report.polls}
    assert "postgres" in result.output and "redis" in result.output
    assert "s3cret" not in result.output


def test_ctrl_c_prints_the_summary_so_far(app: App, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    args = monitor_args(
        app.url + "/health", "--profile", str(profile(tmp_path)), "--json", str(out), duration="2m"
    )
    ended = ctrl_c_cli(args, lambda line: line.rstrip().endswith(" up"))  # the first poll
    assert ended.code == ExitCode.INTERRUPTED
    assert "monitor FAILED (interrupted)" in ended.stdout
    report = monitor.MonitorReport.model_validate_json(out.read_text())
    assert report.interrupted and report.polls >= 1 and report.up_polls >= 1
