"""`vendzz-migrate verify`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from vendzz_migrate.cli.common import (
    JsonOpt,
    JunitOpt,
    MappingOpt,
    SchemaOpt,
    SourceArg,
    TargetOpt,
    check_output_path,
    guarded,
    rendered,
    write_json,
)


class ModeChoice(StrEnum):
    COUNTS = "counts"
    CHECKSUM = "checksum"
    FULL = "full"


HELP = (
    "Prove that PostgreSQL holds exactly what the SQLite file holds (rows, values, keys, "
    "indexes, sequences), or show exactly where not. Exit 9 on a mismatch."
)


def verify(
    source: SourceArg,
    *,
    target: TargetOpt = None,
    mapping: MappingOpt = None,
    schema: SchemaOpt = None,
    mode: Annotated[
        ModeChoice,
        typer.Option(help="Row counts only, segment checksums with bisection, or every row."),
    ] = ModeChoice.CHECKSUM,
    tables: Annotated[str | None, typer.Option(help="Only these tables (comma-separated).")] = None,
    show_values: Annotated[
        bool, typer.Option(help="Show differing values and personal key values (PII!).")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Quarantined (rejected) rows fail too.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes comparing tables (large tables cut into rowid "
            "ranges), all reading one instant of the file [default: CPUs, at most 4].",
        ),
    ] = None,
    allow_empty: Annotated[
        bool, typer.Option(help="Accept a source without any table (else exit 3).")
    ] = False,
    json_out: JsonOpt = None,
    junit: JunitOpt = None,
) -> None:
    from vendzz_migrate.cli.render import verify_summary
    from vendzz_migrate.console import EventRenderer
    from vendzz_migrate.fileio import atomic_write_text
    from vendzz_migrate.settings import load_settings
    from vendzz_migrate.verify import VerifyOptions, VerifyReport, run
    from vendzz_migrate.verify.render import junit as render_junit

    def output(report: VerifyReport) -> None:
        if str(json_out) != "-":
            verify_summary(report)
        write_json(json_out, report)
        if junit is not None:
            atomic_write_text(junit, render_junit(report))

    def call() -> None:
        check_output_path(json_out)
        check_output_path(junit, "--junit")
        settings = load_settings(database_url=target, schema_name=schema)
        opts = VerifyOptions.from_settings(
            settings,
            source=source,
            mapping_path=mapping,
            mode=mode.value,
            tables=[t.strip() for t in tables.split(",") if t.strip()] if tables else None,
            show_values=show_values,
            strict=strict,
            allow_empty=allow_empty,
            **({"workers": workers} if workers else {}),
        )
        rendered(lambda: run(opts, on_event=EventRenderer()), output)

    guarded(call, interrupted="verify changed nothing; rerun it")
