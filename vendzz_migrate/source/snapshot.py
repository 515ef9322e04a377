"""A consistent snapshot of a live SQLite file, taken with the online backup API.

Why the backup API: Vendzz runs SQLite in WAL mode and keeps writing during the migration.
``sqlite3_backup_step(-1)`` copies every page inside ONE read transaction, so the snapshot is
the database at one instant, WAL content included (a plain file copy without the ``-wal`` would
be stale). In WAL mode a reader never blocks writers, so the service keeps writing; the source is
opened ``mode=ro`` and is never written. Copying pages is faster than ``VACUUM INTO`` (no index
rebuild). The snapshot is immutable afterwards, so parallel workers all read the same instant
and a resumed run continues from exactly the data it started with.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, source_error


class Snapshot(BaseModel):
    source: Path
    path: Path
    journal_mode: str
    pages: int
    size_bytes: int
    seconds: float


def take(source: Path, dest: Path) -> Snapshot:
    """Copy ``source`` into ``dest`` atomically (temp file + rename); return what was taken."""
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = open_readonly(source)
    try:
        journal_mode = str(src.execute("PRAGMA journal_mode").fetchone()[0])
        out = sqlite3.connect(tmp)
        try:
            src.backup(out, pages=-1)
            out.execute("PRAGMA journal_mode = DELETE")
            pages = int(out.execute("PRAGMA page_count").fetchone()[0])
            out.commit()
        finally:
            out.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise source_error(source, exc) from None
    finally:
        src.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    return Snapshot(
        source=source, path=dest, journal_mode=journal_mode, pages=pages,
        size_bytes=dest.stat().st_size, seconds=time.monotonic() - started,
    )


def open_snapshot(path: Path) -> sqlite3.Connection:
    """Open a snapshot for reading: immutable (no locks at all), bytes for text values."""
    if not path.exists():
        raise SourceError(f"snapshot {path} is gone; start over with --restart")
    conn = open_readonly(path, immutable=True)
    conn.text_factory = bytes
    return conn
