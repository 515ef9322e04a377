"""loadtest end to end: Locust in child processes against the slow test app on loopback.

Small user counts and stages of a few seconds; nothing here depends on how fast the machine
is except the saturation guard, which a test run at 4 users never reaches.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.loadtest.conftest import loadtest_args, short_run, urls_scenario
from tests.loadtest.servers import App
from tests.support import ctrl_c_cli
from vendzz_migrate.cli import app as cli
from vendzz_migrate.errors import ExitCode

runner = CliRunner()


def one_user(url: str, *extra: str) -> Result:
    """One user for 2 s: for the runs refused before any load."""
    return runner.invoke(
        cli, ["loadtest", "--url", url, "--users", "1", "--stage-duration", "2s", *extra]
    )


def _plots(page: str) -> list[tuple[str, list[int]]]:
    """Each inline SVG plot of the page: its title and the points of each of its lines."""
    from html.parser import HTMLParser

    plots: list[tuple[str, list[int]]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "svg":
                plots.append((a.get("aria-label") or "", []))
            elif tag == "polyline":
                plots[-1][1].append(len((a.get("points") or "").split()))

    Parser().feed(page)
    return plots


def _json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_short_stage_passes_with_json_junit_and_html(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    scenario = urls_scenario(tmp_path, "/health", "/api/quizzes/1")
    out, junit, html = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "html"
    outputs = ("--json", str(out), "--junit", str(junit), "--report", str(html))
    result = runner.invoke(cli, loadtest_args(app.url, "4", scenario, small_profile, *outputs))
    assert result.exit_code == 0, result.output
    report = _json(out)
    assert report["passed"] is True
    (stage,) = report["stages"]
    for key in ("users", "requests", "p50_ms", "p95_ms", "p99_ms", "rps", "error_rate", "passed"):
        assert key in stage
    assert stage["users"] == 4 and stage["users_reached"] == 4  # never more than asked
    assert stage["requests"] > 0 and stage["rps"] > 0 and stage["error_rate"] == 0
    assert 0 < stage["p50_ms"] <= stage["p95_ms"] <= stage["p99_ms"] < 2000
    assert stage["measured_s"] <= 3.0  # the window ends with the stage
    assert "PASS" in result.output
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert int(root.get("tests", "0")) == len(stage["verdicts"]) == len(list(root.iter("testcase")))
    page = (html / "index.html").read_text()
    plots = _plots(page)
    assert [title for title, _ in plots] == ["4 users: latency over time", "4 users: throughput"]
    assert all(len(lines) >= 1 and all(n >= 2 for n in lines) for _, lines in plots)
    # self-contained: nothing fetched from elsewhere
    assert "<script" not in page and " src=" not in page and " href=" not in page


def test_a_url_with_credentials_loads_and_never_shows_the_password(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    """A staging service behind basic auth: http://user:password@host. The readiness probe
    must not take ``user:password@host`` for a host name, and no output holds the password."""
    url = app.url.replace("http://", "http://tester:s3cret@")
    scenario = urls_scenario(tmp_path, "/health")
    out, junit, html = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "html"
    outputs = ("--json", str(out), "--junit", str(junit), "--report", str(html))
    result = runner.invoke(cli, loadtest_args(url, "2", scenario, small_profile, *outputs))
    assert result.exit_code == 0, result.output
    assert _json(out)["stages"][0]["requests"] > 0
    for text in (
        result.output,
        out.read_text(),
        junit.read_text(),
        (html / "index.html").read_text(),
    ):
        assert "s3cret" not in text


def test_failing_requests_fail_the_error_rate_target(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    scenario = urls_scenario(tmp_path, "/health", "/no-such-page")  # half of them a 404
    out = tmp_path / "r.json"
    result = runner.invoke(
        cli, loadtest_args(app.url, "2", scenario, small_profile, "--json", str(out))
    )
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    (stage,) = _json(out)["stages"]
    assert stage["failures"] > 0 and 0.2 < stage["error_rate"] < 0.8
    verdict = {v["name"]: v["passed"] for v in stage["verdicts"]}
    assert verdict["error rate"] is False and verdict["p95"] is True
    assert "error rate" in result.output and "missed" in result.output


def test_slowed_endpoint_fails_p95_with_exit_code(
    app: App, strict_profile: Path, tmp_path: Path
) -> None:
    scenario = urls_scenario(tmp_path, "/slow")
    out = tmp_path / "r.json"
    result = runner.invoke(
        cli, loadtest_args(app.url, "3", scenario, strict_profile, "--json", str(out))
    )
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    stage = _json(out)["stages"][0]
    assert stage["passed"] is False and stage["p95_ms"] >= 300
    p95 = next(v for v in stage["verdicts"] if v["name"] == "p95")
    assert p95["passed"] is False
    assert "p95" in result.output and "missed" in result.output


def test_open_model_keeps_the_rate_and_times_queued_requests(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    # /slow takes 0.3 s and at most 2 journeys are in flight: the service side can finish
    # about 6.7 per second while 20 arrive; the rest queue, and their wait is latency.
    scenario = urls_scenario(tmp_path, "/slow")
    report = short_run(app.url, scenario, small_profile, rates=(20.0,), max_inflight=2)
    (stage,) = report.stages
    assert stage.rate == 20.0 and stage.arrivals_per_s is not None
    assert 19.0 <= stage.arrivals_per_s <= 21.0  # the rate is kept, never exceeded
    assert stage.p50_ms is not None and stage.p50_ms > 600  # queued, not just 300 ms service
    assert stage.max_ms is not None and stage.max_ms > 1000
    assert not stage.passed and report.mode == "open"


def test_two_workers_are_combined(app: App, small_profile: Path, tmp_path: Path) -> None:
    scenario = urls_scenario(tmp_path, "/health")
    report = short_run(app.url, scenario, small_profile, users=(4,), workers=2)
    (stage,) = report.stages
    assert report.workers == 2 and len(report.per_worker_requests) == 2
    assert all(n > 0 for n in report.per_worker_requests.values())
    assert 0 < stage.requests <= sum(report.per_worker_requests.values())
    assert stage.users_reached == 4 and stage.error_rate == 0


def test_ctrl_c_stops_cleanly_with_a_partial_report(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    scenario = urls_scenario(tmp_path, "/health")
    out = tmp_path / "r.json"
    args = loadtest_args(app.url, "2,3", scenario, small_profile, "--json", str(out))
    ended = ctrl_c_cli(args, lambda line: line.startswith("stage 2"))  # the second stage began
    assert ended.code == ExitCode.INTERRUPTED
    report = _json(out)
    assert report["interrupted"] is True and report["passed"] is False
    assert report["stages"][0]["requests"] > 0 and report["stages"][0]["interrupted"] is False


def test_url_is_required_and_bad_scenarios_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["loadtest", "--users", "1"])
    assert result.exit_code == ExitCode.CONFIG and "--url is required" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\njourneys:\n  - name: j\n    steps: [{method: GETT, path: /}]\n")
    result = runner.invoke(cli, ["loadtest", "--url", "http://127.0.0.1:9", "--scenario", str(bad)])
    assert result.exit_code == ExitCode.CONFIG
    assert "journeys.0.steps.0.method" in result.output and "Traceback" not in result.output


def test_nothing_listening_is_a_connection_error() -> None:
    from tests.loadtest.servers import free_port

    result = one_user(f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == ExitCode.CONNECTION
    assert "nothing answers at" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("flag", ["--json", "--junit", "--report"])
def test_an_output_that_cannot_be_written_is_refused_before_any_load(
    flag: str, tmp_path: Path
) -> None:
    """Nothing listens at the URL: exit 4 (not 5) proves the outputs were checked first, so
    an hour of load never ends in a report that cannot be written."""
    from tests.loadtest.servers import free_port

    (tmp_path / "file").write_text("")
    where = tmp_path / "file" if flag == "--report" else tmp_path / "file" / "out"
    result = one_user(f"http://127.0.0.1:{free_port()}", flag, str(where))
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert flag in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("redis", "code"),
    [
        ("127.0.0.1:6379", ExitCode.CONFIG),
        ("redis://:s3cret@127.0.0.1:{port}/0", ExitCode.CONNECTION),
    ],
)
def test_a_redis_that_cannot_count_hits_is_refused_before_any_load(
    app: App, redis: str, code: ExitCode
) -> None:
    """Else the cache-hit target is silently not judged and the stage can pass."""
    from tests.loadtest.servers import free_port

    result = one_user(app.url, "--redis", redis.format(port=free_port()))
    assert result.exit_code == code, result.output
    assert "--redis" in result.output and "s3cret" not in result.output
    assert "stage 1" not in result.output


def test_users_and_rate_together_are_refused() -> None:
    """One model per run: --rate used to win silently over an explicit --users."""
    from tests.loadtest.servers import free_port

    result = runner.invoke(
        cli,
        ["loadtest", "--url", f"http://127.0.0.1:{free_port()}", "--users", "50", "--rate", "10"],
    )
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "--users" in result.output and "--rate" in result.output


@pytest.mark.parametrize(
    "path",
    ["http://127.0.0.2:8080/health", "//127.0.0.2/health", "https://127.0.0.1:{port}/health"],
)
def test_a_scenario_url_on_another_host_is_refused(path: str, tmp_path: Path) -> None:
    """Load goes only where --url says (urls-example.yaml: 'absolute URLs must be on the
    same host as --url'); before, Locust sent it to the scenario's host."""
    from tests.loadtest.servers import free_port

    port = free_port()
    scenario = urls_scenario(tmp_path, "/health", path.format(port=port))
    result = one_user(f"http://127.0.0.1:{port}", "--scenario", str(scenario))
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "urls.1" in result.output and "--url" in result.output


def test_locust_stays_out_of_this_process() -> None:
    import vendzz_migrate.cli
    import vendzz_migrate.loadtest  # noqa: F401

    assert "locust" not in sys.modules and "gevent" not in sys.modules


def test_a_worker_from_another_machine_joins_with_worker_of(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    # the documented multi-machine path, on loopback: the master waits for one worker that
    # is started separately with --worker-of and receives the URL and scenario from it
    from tests.loadtest.servers import free_port

    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "vendzz_migrate", "loadtest", "--worker-of", f"127.0.0.1:{port}"]
    )
    try:
        scenario = urls_scenario(tmp_path, "/health")
        report = short_run(
            app.url,
            scenario,
            small_profile,
            remote_workers=1,
            master_port=port,
            worker_timeout_s=30,
        )
        assert worker.wait(30) == 0  # the master ends its workers
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    (stage,) = report.stages
    assert len(report.per_worker_requests) == 1 and stage.requests > 0 and stage.error_rate == 0
