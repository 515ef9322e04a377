"""``vendzz-migrate sample OUT.db``: write a deterministic sample Vendzz SQLite file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from vendzz_migrate import console
from vendzz_migrate.cli.common import JsonOpt, guarded, write_json

if TYPE_CHECKING:
    from vendzz_migrate.sample import SampleStats

HELP = "Write a deterministic sample Vendzz SQLite file, with its traps unless --clean."


OutArg = Annotated[
    Path, typer.Argument(metavar="OUT.db", help="The SQLite file to write.", show_default=False)
]
RowsOpt = Annotated[int, typer.Option("--rows", help="About this many rows in all tables.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Same seed and options, same rows.")]
CleanOpt = Annotated[bool, typer.Option("--clean", help="No traps: every value fits its type.")]
WalOpt = Annotated[bool, typer.Option("--wal/--no-wal", help="Leave the file in WAL mode.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite OUT.db if it exists.")]


def render(stats: SampleStats) -> Table:
    """Rows and traps per table, with a total line."""
    mode = "clean" if stats.clean else "dirty"
    journal = "WAL" if stats.wal else "rollback journal"
    table = Table(title=f"{stats.path} ({mode}, seed {stats.seed}, {journal})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("traps", justify="right")
    traps = Counter(trap.table for trap in stats.traps)
    for name, count in stats.tables.items():
        table.add_row(name, f"{count:,}", f"{traps[name]:,}" if traps[name] else "")
    table.add_section()
    table.add_row("total", f"{stats.total_rows:,}", f"{len(stats.traps):,}")
    return table


def sample(
    *,
    out: OutArg,
    rows: RowsOpt = 20_000,
    seed: SeedOpt = 42,
    clean: CleanOpt = False,
    wal: WalOpt = True,
    force: ForceOpt = False,
    json: JsonOpt = None,
) -> None:
    """Write a deterministic sample Vendzz SQLite file, with its traps unless --clean."""
    from vendzz_migrate.sample import generate

    console.info(f"writing {out} (about {rows:,} rows, seed {seed})")
    stats = guarded(lambda: generate(out, rows=rows, seed=seed, clean=clean, wal=wal, force=force))
    console.out.print(render(stats))
    write_json(json, stats)
