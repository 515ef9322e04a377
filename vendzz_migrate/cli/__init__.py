"""The vendzz-migrate command line: a thin layer over the library.

Each command lives in its own module, builds settings, makes one library call, renders the
result and maps errors to the documented exit codes (:class:`vendzz_migrate.errors.ExitCode`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vendzz_migrate import __version__, console
from vendzz_migrate.cli import cache as cache_cmd
from vendzz_migrate.cli import copy as copy_cmd
from vendzz_migrate.cli import cutover as cutover_cmd
from vendzz_migrate.cli import demo as demo_cmd
from vendzz_migrate.cli import loadtest as loadtest_cmd
from vendzz_migrate.cli import monitor as monitor_cmd
from vendzz_migrate.cli import preflight as preflight_cmd
from vendzz_migrate.cli import sample as sample_cmd
from vendzz_migrate.cli import schema as schema_cmd
from vendzz_migrate.cli import verify as verify_cmd

app = typer.Typer(
    name="vendzz-migrate",
    help="Move a live Vendzz SQLite file to PostgreSQL + Redis without losing a row, and prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        console.out.print(f"vendzz-migrate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More output (-vv: tracebacks).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and results.")] = False,
) -> None:
    """vendzz-migrate: SQLite -> PostgreSQL + Redis for Vendzz."""
    del version  # handled by its eager callback
    console.set_verbosity(-1 if quiet else verbose)


app.command("sqlite-to-pg", help=copy_cmd.HELP)(copy_cmd.sqlite_to_pg)
app.add_typer(schema_cmd.app, name="schema")
app.command("verify", help=verify_cmd.HELP)(verify_cmd.verify)
app.command("demo", help=demo_cmd.HELP)(demo_cmd.demo)
app.command("cutover", help=cutover_cmd.HELP)(cutover_cmd.cutover)
app.command("sample", help=sample_cmd.HELP)(sample_cmd.sample)
app.command("preflight", help=preflight_cmd.PREFLIGHT_HELP)(preflight_cmd.preflight)
app.command("provision", help=preflight_cmd.PROVISION_HELP)(preflight_cmd.provision)
app.command("warm-cache", help=cache_cmd.WARM_HELP)(cache_cmd.warm_cache)
app.command("cache-stats", help=cache_cmd.STATS_HELP)(cache_cmd.cache_stats)
app.command("loadtest", help=loadtest_cmd.HELP)(loadtest_cmd.loadtest)
app.command("monitor", help=monitor_cmd.HELP)(monitor_cmd.monitor)


def main() -> None:
    app()
