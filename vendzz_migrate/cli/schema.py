"""`vendzz-migrate schema infer`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vendzz_migrate.cli.common import SourceArg, guarded

app = typer.Typer(
    help="Profile a SQLite file and write a reviewable mapping.", no_args_is_help=True
)


@app.command("infer")
def infer(
    source: SourceArg,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the mapping YAML here (else stdout)."),
    ] = None,
    snake_case: Annotated[
        bool, typer.Option(help="Rename camelCase columns to snake_case.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Profile every column and write the mapping: PostgreSQL type, conversion, policy."""
    from vendzz_migrate import console
    from vendzz_migrate.typemap.service import infer_file

    def call() -> None:
        text = infer_file(source, output, snake_case=snake_case, force=force)
        if output is None:
            console.out.print(text, markup=False, highlight=False, end="")
        else:
            console.info(f"mapping written to {output}")

    guarded(call)
