"""`preflight` (a CI gate over the spec) and `provision` (render the configs that satisfy it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vendzz_migrate import console
from vendzz_migrate.cli.common import (
    JsonOpt,
    JunitOpt,
    RedisOpt,
    TargetOpt,
    check_output_path,
    guarded,
    write_json,
)

if TYPE_CHECKING:
    from vendzz_migrate.preflight import PreflightReport
    from vendzz_migrate.provision import ProvisionReport

PREFLIGHT_HELP = "Check machine, pools, PostgreSQL, Redis and the SQLite source against a profile."
PROVISION_HELP = "Render pgbouncer.ini, nginx, redis.conf, .env and alert rules from a profile."

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="production-1000, staging, dev, or a YAML file. [env: VENDZZ_PREFLIGHT_PROFILE] "
        "[default: production-1000]",
    ),
]
_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def preflight(
    *,
    profile: ProfileOpt = None,
    source: Annotated[
        Path | None, typer.Option("--source", help="The SQLite file to check (only read).")
    ] = None,
    target: TargetOpt = None,
    redis: RedisOpt = None,
    pgbouncer_admin: Annotated[
        str | None,
        typer.Option(
            "--pgbouncer-admin",
            help="PgBouncer admin console URL. [env: VENDZZ_PGBOUNCER_ADMIN_URL]",
        ),
    ] = None,
    app_instances: Annotated[
        int | None,
        typer.Option("--app-instances", min=1, help="App servers (default: the profile's)."),
    ] = None,
    json_out: JsonOpt = None,
    junit: JunitOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the gate too.")] = False,
) -> None:
    from vendzz_migrate import preflight as lib
    from vendzz_migrate.fileio import atomic_write_text
    from vendzz_migrate.settings import load_settings

    def go() -> PreflightReport:
        check_output_path(json_out)
        check_output_path(junit, "--junit")
        settings = load_settings(
            database_url=target, redis_url=redis, pgbouncer_admin_url=pgbouncer_admin
        )
        report = lib.run(settings, profile, source, app_instances=app_instances, strict=strict)
        if str(json_out) != "-":
            render(report)
        write_json(json_out, report)
        if junit is not None:
            atomic_write_text(junit, lib.render_junit(report))
        return report

    raise typer.Exit(int(guarded(go).exit_code))


def render(report: PreflightReport) -> None:
    from rich.table import Table

    table = Table(title=f"preflight: profile {report.profile}", show_lines=False)
    for column in ("status", "check", "measured", "expected", "remedy"):
        table.add_column(column, overflow="fold")
    for area, checks in report.by_area().items():
        table.add_section()
        table.add_row(f"[bold]{area.value}[/bold]", "", "", "", "")
        for c in checks:
            style = _STYLE[c.status.value]
            remedy = "" if c.status.value == "pass" else c.remedy
            table.add_row(
                f"[{style}]{c.status.value.upper()}[/{style}]",
                c.title,
                c.measured,
                c.expected,
                remedy,
            )
    console.out.print(table)
    counts = {s: report.count(s) for s in type(report.checks[0].status)} if report.checks else {}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items())
    verdict = "passed" if report.passed else "FAILED"
    console.out.print(f"preflight {verdict}: {summary}" + (" (strict)" if report.strict else ""))


def provision(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files into.")],
    profile: ProfileOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    json_out: JsonOpt = None,
) -> None:
    from vendzz_migrate import provision as lib
    from vendzz_migrate.settings import load_settings

    def go() -> ProvisionReport:
        report = lib.run(load_settings(), profile, out, force=force)
        for item in report.files:
            console.out.print(f"wrote {item.path} (mode {item.mode:o}, {item.bytes} bytes)")
        for note in report.notes:
            console.warn(note)
        write_json(json_out, report)
        return report

    guarded(go)
