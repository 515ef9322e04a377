"""Write a whole sample Vendzz file: schema, data, traps, indexes, ANALYZE, WAL."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.sample import billing, core, messaging
from vendzz_migrate.sample.context import Context, Plan
from vendzz_migrate.sample.models import SampleStats, Trap
from vendzz_migrate.sample.traps import plant

MIN_ROWS = 100


def generate(
    path: Path,
    *,
    rows: int = 20_000,
    seed: int = 42,
    clean: bool = False,
    wal: bool = True,
    force: bool = False,
) -> SampleStats:
    """Write a deterministic Vendzz-like SQLite file of about ``rows`` rows at ``path``.

    The same arguments give the same rows. ``clean=True`` plants no traps; otherwise every trap
    kind is present and listed in :attr:`SampleStats.traps`. The file is built under a temporary
    name and renamed into place, so a failure never leaves a half-written file behind.
    """
    path = Path(path)
    _check(path, rows, force)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove(tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            tables, traps = _fill(conn, rows, seed, clean, wal)
        finally:
            conn.close()
        _remove(path)
        tmp.replace(path)
    except BaseException:
        _remove(tmp)
        raise
    return SampleStats(path=path, seed=seed, clean=clean, wal=wal, tables=tables, traps=traps)


def _check(path: Path, rows: int, force: bool) -> None:
    if rows < MIN_ROWS:
        raise ConfigError(f"--rows must be at least {MIN_ROWS} (got {rows})")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a directory")
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")


def _remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _fill(
    conn: sqlite3.Connection, rows: int, seed: int, clean: bool, wal: bool
) -> tuple[dict[str, int], list[Trap]]:
    conn.execute("PRAGMA journal_mode = OFF")  # a temporary file: nothing to roll back to
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")  # as in the service: declared, never enforced
    conn.execute("BEGIN")
    for statement in _statements("schema.sql"):
        conn.execute(statement)
    ctx = Context(conn=conn, seed=seed, plan=Plan.for_rows(rows))
    for module in (core, messaging, billing):
        module.build(ctx)
    traps = [] if clean else plant(conn, seed)
    for statement in _statements("indexes.sql"):
        conn.execute(statement)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute(f"PRAGMA journal_mode = {'WAL' if wal else 'DELETE'}")
    return _table_counts(conn), traps


def _statements(name: str) -> Iterator[str]:
    """The statements of a packaged .sql file, one at a time."""
    text = resources.files("vendzz_migrate.sample").joinpath(name).read_text(encoding="utf-8")
    buffer = ""
    for line in text.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


def _table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        )
    ]
    return {
        name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names
    }
