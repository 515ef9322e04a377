"""`monitor`: poll the service, host, PostgreSQL and Redis; alerts as they fire and resolve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from vendzz_migrate import console
from vendzz_migrate.cli.common import (
    JsonOpt,
    RedisOpt,
    TargetOpt,
    check_outputs,
    guarded,
    rendered,
    write_json,
)
from vendzz_migrate.errors import CheckFailed, ExitCode

if TYPE_CHECKING:
    from vendzz_migrate.events import Event
    from vendzz_migrate.monitor import MonitorReport

HELP = "Watch the service (health, metrics, host, PostgreSQL, Redis) against the spec's alerts."


def monitor(
    url: Annotated[
        str,
        typer.Option("--url", help="The service's health URL (.../health).", show_default=False),
    ],
    duration: Annotated[str, typer.Option("--duration", help="How long to watch.")] = "24h",
    interval: Annotated[str, typer.Option("--interval", help="Time between polls.")] = "5s",
    profile: Annotated[
        str,
        typer.Option(
            "--profile", help="Alerts and targets: production-1000, staging, dev, or a YAML file."
        ),
    ] = "production-1000",
    target: TargetOpt = None,
    redis: RedisOpt = None,
    rate_window: Annotated[
        str,
        typer.Option(
            "--rate-window", help="rate() window of the rules (the rendered rules use 1m)."
        ),
    ] = "1m",
    json_out: JsonOpt = None,
) -> None:
    from vendzz_migrate import monitor as lib
    from vendzz_migrate.monitor.durations import parse_duration
    from vendzz_migrate.settings import load_settings

    def go() -> MonitorReport:
        check_outputs({"--json": json_out})
        settings = load_settings(database_url=target, redis_url=redis)
        options = lib.Options(
            url=url,
            duration_s=parse_duration(duration),
            interval_s=parse_duration(interval),
            profile=profile,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            rate_window_s=parse_duration(rate_window),
        )
        return rendered(lambda: lib.run(options, on_event=_event), output)

    def output(report: MonitorReport) -> None:
        if str(json_out) != "-":
            render(report)
        write_json(json_out, report)

    if guarded(go, shown=(CheckFailed,)).interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))


def _event(line: Event) -> None:
    import time

    event = line.fields
    stamp = time.strftime("%H:%M:%S", time.localtime(event["t"]))
    kind = event["event"]
    labels = ",".join(f"{k}={v}" for k, v in event.get("labels", {}).items())
    where = f" {{{labels}}}" if labels else ""
    if kind == "firing":
        console.err.print(
            f"{stamp} [red]FIRING[/red] {event['alert']}{where}: "
            f"{event['value']:.4g} ({event['threshold']})"
        )
    elif kind == "resolved":
        console.err.print(
            f"{stamp} [green]RESOLVED[/green] {event['alert']}{where} after "
            f"{event['duration_s']:.0f} s"
        )
    elif kind == "down":
        console.err.print(f"{stamp} [yellow]DOWN[/yellow] {event.get('error')}")
    elif kind == "up":
        console.err.print(f"{stamp} up")


def render(report: MonitorReport) -> None:
    from rich.table import Table

    table = Table(title=f"monitor {report.url} (profile {report.profile})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("watched", f"{report.duration_s:,.0f} s, {report.polls} polls"),
        ("uptime", f"{report.uptime_pct:.3f} % (target {report.uptime_target_pct:g} %)"),
        ("downtime", f"{report.downtime_s:,.1f} s"),
        ("worst P95", _num(report.worst_p95_ms, " ms")),
        ("slowest health poll", _num(report.worst_health_ms, " ms")),
        ("most DB connections", _num(report.max_db_connections_pct, " % of max")),
        (
            "cache hit rate",
            _num(None if report.cache_hit_rate is None else report.cache_hit_rate * 100, " %"),
        ),
        ("alerts fired", str(len(report.alerts))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.out.print(table)
    for a in report.alerts:
        end = "still firing" if a.resolved_at is None else "resolved"
        console.out.print(
            f"alert {a.alert} ({a.threshold}): {a.duration_s:,.0f} s, {end}, peak {a.peak:.4g}"
        )
    if report.missing_health_fields:
        console.out.print(
            "health answers lack the spec's fields: " + ", ".join(report.missing_health_fields)
        )
    for name, missed in report.unreachable.items():
        if missed:
            console.out.print(
                f"{name} did not answer in {missed} of {report.polls} polls"
                + (": its alerts were never evaluated" if missed == report.polls else "")
            )
    verdict = "passed" if report.passed else "FAILED"
    console.out.print(f"monitor {verdict}" + (" (interrupted)" if report.interrupted else ""))


def _num(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"
