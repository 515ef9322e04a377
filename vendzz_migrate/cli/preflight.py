"""`preflight` (a CI gate over the spec) and `provision` (render the configs that satisfy it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from vendzz_migrate import console
from vendzz_migrate.cli.common import (
    JsonOpt,
    JunitOpt,
    RedisOpt,
    TargetOpt,
    check_output_path,
    guarded,
    rendered,
    write_json,
)

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.table import Table

    from vendzz_migrate.preflight import FleetReport, PreflightReport
    from vendzz_migrate.provision import ProvisionReport

R = TypeVar("R", bound="BaseModel")

PREFLIGHT_HELP = (
    "Check this machine (by role), the pools, PostgreSQL, Redis and the SQLite source against a "
    "profile; --merge joins several machines' --json reports into one verdict."
)
PROVISION_HELP = "Render pgbouncer.ini, nginx, redis.conf, .env and alert rules from a profile."

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="production-1000, staging, dev, or a YAML file. [env: VENDZZ_PREFLIGHT_PROFILE] "
        "[default: production-1000]",
    ),
]
_AREAS = "environment, host, pools, postgres, redis, sqlite"
_ROLES = ("app", "postgres", "redis")
_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
_CHECKING = (
    "profile", "role", "only", "skip", "source", "target", "redis", "pgbouncer_admin",
    "app_instances",
)  # fmt: skip


def _role(value: str) -> str:
    if value not in _ROLES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(_ROLES)}")
    return value


def _areas(values: list[str] | None) -> list[str] | None:
    from vendzz_migrate.preflight.areas import parse_areas

    try:
        parse_areas(values or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return values


def preflight(
    ctx: typer.Context,
    *,
    profile: ProfileOpt = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            metavar="[app|postgres|redis]",
            help="The machine this runs on: app (an app server), postgres, or redis (a Redis "
            "node); picks the host minimums and the areas that make sense there.",
            callback=_role,
        ),
    ] = "app",
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="AREA[,AREA]",
            help=f"Check only these areas ({_AREAS}); repeat or comma-separate.",
            callback=_areas,
            show_default=False,
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip",
            metavar="AREA[,AREA]",
            help="Leave these areas out (listed as skipped); repeat or comma-separate.",
            callback=_areas,
            show_default=False,
        ),
    ] = None,
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
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Merge REPORTS (preflight --json files of several machines) into one table and "
            "the worst exit code, instead of checking (--json/--junit/--strict apply).",
        ),
    ] = False,
    reports: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[REPORTS]...",
            help="With --merge: the JSON reports of several machines.",
            show_default=False,
        ),
    ] = None,
) -> None:
    from vendzz_migrate import preflight as lib
    from vendzz_migrate.console import EventRenderer
    from vendzz_migrate.errors import CheckFailed
    from vendzz_migrate.settings import load_settings

    if merge or reports:
        _merge(ctx, reports or [], merge, json_out, junit, strict)
        return

    def go() -> None:
        check_output_path(json_out)
        check_output_path(junit, "--junit")
        settings = load_settings(
            database_url=target, redis_url=redis, pgbouncer_admin_url=pgbouncer_admin
        )
        opts = lib.PreflightOptions.from_settings(
            settings,
            source=source,
            role=role,
            only=lib.parse_areas(only or []),
            skip=lib.parse_areas(skip or []),
            app_instances=app_instances,
            strict=strict,
            **({"profile": profile} if profile else {}),
        )
        rendered(
            lambda: lib.run(opts, EventRenderer()),
            lambda report: _emit(report, json_out, junit, render, lib.render_junit),
        )

    guarded(go, shown=(CheckFailed,))


def _merge(
    ctx: typer.Context,
    reports: list[Path],
    merge: bool,
    json_out: Path | None,
    junit: Path | None,
    strict: bool,
) -> None:
    from vendzz_migrate import preflight as lib
    from vendzz_migrate.errors import CheckFailed

    if not merge:
        raise typer.BadParameter(
            "report files are only read with --merge (the SQLite file is --source)",
            param_hint="REPORTS",
        )
    if not reports:
        raise typer.BadParameter("--merge needs at least one report file (preflight --json FILE)")
    _refuse_checking_flags(ctx)

    def go() -> None:
        rendered(
            lambda: lib.merge(reports, strict=strict),
            lambda fleet: _emit(fleet, json_out, junit, render_fleet, lib.render_fleet_junit),
        )

    guarded(go, shown=(CheckFailed,))


def _refuse_checking_flags(ctx: typer.Context) -> None:
    """--merge reads reports: a flag that checks a machine would be silently ignored."""
    given = [
        p.opts[0]
        for p in ctx.command.params
        if p.name in _CHECKING
        and getattr(ctx.get_parameter_source(p.name), "name", "") == "COMMANDLINE"
    ]
    if given:
        raise typer.BadParameter(
            f"{', '.join(given)}: --merge only reads reports; give checking options to each "
            "machine's preflight"
        )


def _emit(
    report: R,
    json_out: Path | None,
    junit: Path | None,
    table: Callable[[R], None],
    xml: Callable[[R], str],
) -> None:
    """The table (unless the JSON goes to stdout), then --json and --junit."""
    from vendzz_migrate.fileio import atomic_write_text

    if str(json_out) != "-":
        table(report)
    write_json(json_out, report)
    if junit is not None:
        atomic_write_text(junit, xml(report))


def _status(status: str) -> str:
    style = _STYLE[status]
    return f"[{style}]{status.upper()}[/{style}]"


def _rows(table: Table, report: PreflightReport, lead: list[str]) -> None:
    """One section per area: a heading row, then a row per check (``lead``: cells before)."""
    blank = [""] * len(lead)
    for area, checks in report.by_area().items():
        table.add_section()
        table.add_row(*lead, f"[bold]{area.value}[/bold]", "", "", "", "")
        for c in checks:
            remedy = "" if c.status.value == "pass" else c.remedy
            table.add_row(*blank, _status(c.status.value), c.title, c.measured, c.expected, remedy)


def render(report: PreflightReport) -> None:
    from rich.table import Table

    title = f"preflight: profile {report.profile}, role {report.role.value} on {report.machine}"
    table = Table(title=title, show_lines=False)
    for column in ("status", "check", "measured", "expected", "remedy"):
        table.add_column(column, overflow="fold")
    _rows(table, report, [])
    console.out.print(table)
    verdict = "passed" if report.passed else "FAILED"
    strict = " (strict)" if report.strict else ""
    console.out.print(f"preflight {verdict}: {report.counts()}{strict}")


def render_fleet(fleet: FleetReport) -> None:
    from rich.table import Table

    table = Table(title=f"preflight: {len(fleet.reports)} machines", show_lines=False)
    for column in ("machine", "status", "check", "measured", "expected", "remedy"):
        table.add_column(column, overflow="fold")
    for item in fleet.reports:
        code = fleet.exit_code_of(item)
        verdict = _status("pass" if code == 0 else "fail")
        table.add_section()
        table.add_row(
            f"[bold]{item.label}[/bold]",
            verdict,
            f"profile {item.report.profile}",
            item.report.counts(),
            f"exit {int(code)}",
            item.file,
        )
        _rows(table, item.report, [""])
    console.out.print(table)
    failed = ", ".join(item.label for item in fleet.failed)
    verdict = f"FAILED ({failed})" if failed else "passed"
    strict = " (strict)" if fleet.strict else ""
    console.out.print(
        f"fleet preflight {verdict}: {len(fleet.reports)} reports, exit {int(fleet.exit_code)}"
        f"{strict}"
    )


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
