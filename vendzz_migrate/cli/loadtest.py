"""`loadtest`: staged users (closed model) or a fixed arrival rate (open model), judged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vendzz_migrate import console
from vendzz_migrate.cli.common import (
    JsonOpt,
    JunitOpt,
    RedisOpt,
    check_outputs,
    guarded,
    rendered,
    write_json,
)
from vendzz_migrate.errors import CheckFailed, ExitCode

if TYPE_CHECKING:
    from vendzz_migrate.events import Event
    from vendzz_migrate.loadtest import LoadtestReport

HELP = "Load the service in stages (100/500/1000 users) or at a --rate, judged against a profile."


def _numbers(text: str, kind: type[float] | type[int]) -> tuple[Any, ...]:
    from vendzz_migrate.errors import ConfigError

    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, not {text!r}") from None


UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Base URL of the service (required).", show_default=False),
]
UsersOpt = Annotated[
    str | None,
    typer.Option(
        "--users", help="Closed model: users per stage [default: 100,500,1000].", show_default=False
    ),
]
DurationOpt = Annotated[str, typer.Option("--stage-duration", help="Per stage.")]
RampOpt = Annotated[
    str | None,
    typer.Option(
        "--ramp", help="Ramp at the start of each stage, not measured [default: 25 %, <= 30s]."
    ),
]
RateOpt = Annotated[
    str | None,
    typer.Option(
        "--rate", help="Open model: journeys started per second, per stage (e.g. 50,100)."
    ),
]
ScenarioOpt = Annotated[
    str | None,
    typer.Option(
        "--scenario", help="vendzz-reference (default), vendzz-node, urls-example, or YAML."
    ),
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", help="Targets: production-1000, staging, dev, or a YAML file.")
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=0, help="Local Locust workers.")]
ExpectOpt = Annotated[
    int, typer.Option("--expect-workers", min=0, help="Workers from other machines to wait for.")
]
BindOpt = Annotated[
    str, typer.Option("--master-bind", help="Address the master listens on for workers.")
]
PortOpt = Annotated[
    int,
    typer.Option("--master-port", help="Port for workers [default: free port; 5557 is Locust's]."),
]
WorkerOfOpt = Annotated[
    str | None,
    typer.Option("--worker-of", help="Be a worker of the master at HOST:PORT (another machine)."),
]
InflightOpt = Annotated[
    int, typer.Option("--max-inflight", min=1, help="Open model: journeys in flight at most.")
]
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report", help="Write a self-contained HTML report (index.html) into this directory."
    ),
]


def loadtest(
    url: UrlOpt = None,
    users: UsersOpt = None,
    stage_duration: DurationOpt = "60s",
    ramp: RampOpt = None,
    rate: RateOpt = None,
    scenario: ScenarioOpt = None,
    profile: ProfileOpt = "production-1000",
    workers: WorkersOpt = 0,
    expect_workers: ExpectOpt = 0,
    master_bind: BindOpt = "127.0.0.1",
    master_port: PortOpt = 0,
    worker_of: WorkerOfOpt = None,
    max_inflight: InflightOpt = 1000,
    redis: RedisOpt = None,
    json_out: JsonOpt = None,
    junit: JunitOpt = None,
    report_dir: ReportOpt = None,
) -> None:
    from vendzz_migrate import loadtest as lib
    from vendzz_migrate.errors import ConfigError
    from vendzz_migrate.monitor.durations import parse_duration
    from vendzz_migrate.settings import load_settings

    if worker_of is not None:
        raise typer.Exit(guarded(lambda: lib.run_worker(worker_of)))

    def go() -> LoadtestReport:
        if not url:
            raise ConfigError("--url is required: name the service to load explicitly")
        if users is not None and rate is not None:
            raise ConfigError("--users (closed model) and --rate (open model): give one of them")
        check_outputs({"--json": json_out, "--junit": junit}, {"--report": report_dir})
        options = lib.Options(
            url=url,
            users=_numbers(users or "100,500,1000", int),
            rates=_numbers(rate or "", float),
            stage_duration_s=parse_duration(stage_duration),
            ramp_s=None if ramp is None else parse_duration(ramp),
            scenario=scenario,
            profile=profile,
            workers=workers,
            remote_workers=expect_workers,
            master_bind=master_bind,
            master_port=master_port,
            max_inflight=max_inflight,
            redis_url=load_settings(redis_url=redis).redis_url,
        )
        return rendered(lambda: lib.run(options, on_event=_progress), output)

    def output(report: LoadtestReport) -> None:
        if str(json_out) != "-":
            render(report)
        write_json(json_out, report)
        _files(report, junit, report_dir)

    if guarded(go, shown=(CheckFailed,)).interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))


def _files(report: LoadtestReport, junit: Path | None, report_dir: Path | None) -> None:
    from vendzz_migrate.fileio import atomic_write_text
    from vendzz_migrate.loadtest.html import render_html
    from vendzz_migrate.loadtest.junit import render_junit

    if junit is not None:
        atomic_write_text(junit, render_junit(report))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report_dir / "index.html", render_html(report))
        console.info(f"report: {report_dir / 'index.html'}")


def _progress(line: Event) -> None:
    event = line.fields
    kind = event.get("event")
    if kind == "stage_start":
        what = f"{event['users']} users" if event.get("users") else f"{event['rate']} arrivals/s"
        console.info(f"stage {event['index'] + 1}: {what}")
    elif kind == "workers":
        console.info(f"{event['count']} worker(s) connected")
    elif kind == "master":
        console.info(f"Locust master waiting for workers on port {event['port']}")
    elif kind == "error":
        console.warn(str(event.get("message")))


def render(report: LoadtestReport) -> None:
    from rich.table import Table

    table = Table(title=f"loadtest {report.url} ({report.mode} model, profile {report.profile})")
    for column in (
        "stage",
        "load",
        "requests",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "req/s",
        "errors",
        "cache hits",
        "gen. CPU",
        "verdict",
    ):
        table.add_column(column, justify="right")
    for s in report.stages:
        load = f"{s.users} users" if s.users is not None else f"{s.rate:g}/s"
        hits = "n/a" if s.cache_hit_rate is None else f"{s.cache_hit_rate * 100:.1f} %"
        verdict = (
            "[green]PASS[/green]"
            if s.passed
            else ("[yellow]SATURATED[/yellow]" if s.saturated else "[red]FAIL[/red]")
        )
        table.add_row(
            str(s.index + 1),
            load,
            f"{s.requests:,}",
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            _ms(s.p99_ms),
            f"{s.rps:,.1f}",
            f"{s.error_rate * 100:.2f} %",
            hits,
            f"{s.generator_cpu_pct:g} %",
            verdict,
        )
    console.out.print(table)
    for s in report.stages:
        for v in s.verdicts:
            if v.passed is False:
                console.out.print(
                    f"stage {s.index + 1}: {v.name} {v.measured} missed (expected {v.expected})"
                )
        for note in s.notes:
            console.out.print(f"stage {s.index + 1}: {note}")
    for note in report.notes:
        console.out.print(f"note: {note}")
    verdict = "passed" if report.passed else "FAILED"
    console.out.print(
        f"loadtest {verdict}" + (" (interrupted: partial report)" if report.interrupted else "")
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"
