from __future__ import annotations

import typer

app = typer.Typer(help="Profile a SQLite file and write a reviewable mapping.", no_args_is_help=True)


@app.command("infer")
def infer() -> None:
    """Work in progress."""
    raise NotImplementedError("work in progress")
