"""`vendzz-migrate cutover`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vendzz_migrate.cli.common import JsonOpt, guarded, write_json

HELP = (
    "Move the live service from SQLite to PostgreSQL: change capture, copy while it "
    "writes, catch-up deltas, a write freeze of seconds, verify, switch, smoke, watch. "
    "Journaled and resumable; stops itself at every decision point."
)


def cutover(
    plan_path: Annotated[Path, typer.Option("--plan", help="The cutover plan (YAML).")],
    *,
    rollback_plan: Annotated[
        bool,
        typer.Option(
            "--rollback-plan", help="Write + print the rollback plan (Markdown); touch nothing."
        ),
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Where it stands, what --resume does next.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue after a crash or kill -9.")
    ] = False,
    abort: Annotated[
        bool, typer.Option("--abort", help="Before the freeze is lifted: back to SQLite.")
    ] = False,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback", help="After the switch: carry PostgreSQL's writes back, return to SQLite."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --rollback: show what it would do.")
    ] = False,
    finish: Annotated[
        bool, typer.Option("--finish", help="Close the rollback window (drop the capture).")
    ] = False,
    json_out: JsonOpt = None,
) -> None:
    from vendzz_migrate.errors import ConfigError, MismatchError

    modes = [rollback_plan, status, resume, abort, rollback, finish]
    if sum(modes) > 1 or (dry_run and not rollback):
        raise typer.BadParameter(
            "give at most one of --rollback-plan, --status, --resume, "
            "--abort, --rollback, --finish (--dry-run only with --rollback)"
        )

    def call() -> None:
        from vendzz_migrate import console
        from vendzz_migrate.cutover import engine
        from vendzz_migrate.cutover import rollback_plan as rbp
        from vendzz_migrate.cutover.plan import load

        plan = load(plan_path)
        result: Any
        if rollback_plan:
            out, text = rbp.write(plan, plan_path)
            console.out.print(text, markup=False, highlight=False)
            console.info(f"written to {out}")
            return
        if rollback or finish:
            import importlib

            try:
                rb = importlib.import_module("vendzz_migrate.cutover.rollback")
            except ImportError:
                raise ConfigError("--rollback/--finish are not available in this build") from None
            result = (
                rb.finish(plan)
                if finish
                else rb.rollback(plan, dry_run=dry_run, on_event=console.EventRenderer())
            )
        elif status:
            result = engine.status(plan)
        elif abort:
            result = engine.abort(plan)
        else:
            try:
                result = engine.run(plan, resume=resume, on_event=console.EventRenderer())
            except MismatchError as exc:  # the differences, as data, before the one line
                write_json(Path("-"), exc.data["report"])
                raise
        if str(json_out) != "-":
            for line in result.lines() if status else []:
                console.out.print(line, markup=False, highlight=False)
            console.out.print(result.summary(), markup=False, highlight=False)
        write_json(json_out, result)

    guarded(call)
