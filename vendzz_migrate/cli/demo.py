"""`vendzz-migrate demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from vendzz_migrate.cli.common import JsonOpt, guarded, write_json

HELP = (
    "Generate a sample Vendzz file and run the whole migration on it: sqlite-to-pg, verify, "
    "warm-cache, preflight, then a cutover rehearsal (the reference service and its writer "
    "client running); embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL."
)


def demo(
    rows: Annotated[int, typer.Option(min=100, help="Approximate rows to generate.")] = 5000,
    clean: Annotated[bool, typer.Option(help="A file without the Vendzz traps.")] = False,
    cutover: Annotated[
        bool,
        typer.Option(
            help="Rehearse a cutover with the service writing (needs the 'service' extra)."
        ),
    ] = True,
    with_rollback: Annotated[
        bool,
        typer.Option(help="After the cutover, roll back to SQLite with the writer still writing."),
    ] = False,
    json_out: JsonOpt = None,
) -> None:
    from vendzz_migrate import console
    from vendzz_migrate.cli.cache import _render_warm
    from vendzz_migrate.cli.preflight import render as render_preflight
    from vendzz_migrate.cli.render import copy_summary, verify_summary
    from vendzz_migrate.demo import run
    from vendzz_migrate.settings import load_settings

    report = guarded(
        lambda: run(
            load_settings(),
            rows=rows,
            clean=clean,
            cutover=cutover,
            with_rollback=with_rollback,
            on_event=console.EventRenderer(),
        )
    )
    copy_summary(report.copy_report)
    verify_summary(report.verify_report)
    _render_warm(report.cache_report)
    render_preflight(report.preflight_report)
    console.out.print(
        f"demo done: source {report.source}, PostgreSQL {report.database}, Redis {report.redis}",
        markup=False,
    )
    if report.cutover is not None:
        c = report.cutover
        freeze = f"{c.freeze_seconds:.2f}s" if c.freeze_seconds is not None else "-"
        console.out.print(
            f"cutover rehearsal: {c.state}; write freeze {freeze}; {c.writes_acknowledged} "
            f"write(s) acknowledged, {c.writes_missing} missing, {c.writes_duplicated} "
            f"duplicated (ack log {c.ack_log}; ended on "
            f"{c.postgres if c.state == 'done' else c.sqlite})"
            + (f"; stopped: {c.error}" if c.error else ""),
            markup=False,
        )
        if c.rollback is not None:
            b = c.rollback
            back = f"{b.freeze_seconds:.2f}s" if b.freeze_seconds is not None else "-"
            console.out.print(
                f"rollback rehearsal: {b.state}; write freeze {back}; {b.writes_acknowledged} "
                f"write(s) acknowledged in both eras, {b.writes_missing} missing from SQLite "
                f"{b.sqlite}" + (f"; stopped: {b.error}" if b.error else ""),
                markup=False,
            )
    write_json(json_out, report)
