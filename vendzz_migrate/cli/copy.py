"""`vendzz-migrate sqlite-to-pg`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vendzz_migrate.cli.common import (
    JsonOpt,
    MappingOpt,
    SchemaOpt,
    SourceArg,
    TargetOpt,
    check_output_path,
    guarded,
    rendered,
    write_json,
)

if TYPE_CHECKING:
    from vendzz_migrate.report.copy import CopyReport

HELP = (
    "Copy a SQLite file into PostgreSQL: consistent snapshot, batched COPY, tables in "
    "parallel, resumable, every row accounted for."
)


def sqlite_to_pg(
    source: SourceArg,
    target: TargetOpt = None,
    mapping: MappingOpt = None,
    schema: SchemaOpt = None,
    data_only: Annotated[bool, typer.Option(help="Load into tables that already exist.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Parallel copy workers.")] = 2,
    batch_rows: Annotated[
        int, typer.Option(min=1, help="Rows per unit (one transaction).")
    ] = 20_000,
    resume: Annotated[bool, typer.Option(help="Finish an interrupted run.")] = False,
    restart: Annotated[
        bool, typer.Option(help="Drop what an earlier run created; start over.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Print the DDL and the plan; touch nothing.")
    ] = False,
    allow_rejects: Annotated[bool, typer.Option(help="Exit 0 even if rows were rejected.")] = False,
    allow_empty: Annotated[
        bool, typer.Option(help="Accept a source without any table (else exit 3).")
    ] = False,
    keep_snapshot: Annotated[
        bool,
        typer.Option(
            help="Keep the snapshot of a finished run (else removed when the run is done)."
        ),
    ] = False,
    work_dir: Annotated[Path | None, typer.Option(help="Snapshots. [env: VENDZZ_WORK_DIR]")] = None,
    json_out: JsonOpt = None,
) -> None:
    from vendzz_migrate.cli.render import copy_summary
    from vendzz_migrate.console import EventRenderer
    from vendzz_migrate.copy.run import CopyOptions, run
    from vendzz_migrate.settings import load_settings

    def call() -> None:
        check_output_path(json_out)
        settings = load_settings(database_url=target, schema_name=schema, work_dir=work_dir)
        opts = CopyOptions.from_settings(
            settings,
            source=source,
            mapping_path=mapping,
            data_only=data_only,
            workers=workers,
            batch_rows=batch_rows,
            resume=resume,
            restart=restart,
            dry_run=dry_run,
            allow_rejects=allow_rejects,
            allow_empty=allow_empty,
            keep_snapshot=keep_snapshot,
        )
        rendered(lambda: run(opts, on_event=EventRenderer()), output)

    def output(report: CopyReport) -> None:
        copy_summary(report)
        write_json(json_out, report)

    guarded(call, interrupted="finished work is kept: rerun with --resume")
