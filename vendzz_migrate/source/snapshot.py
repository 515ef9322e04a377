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
import re
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, source_error

_PENDING = re.compile(r"\.p(\d+)\.db(?:\.partial(?:-journal|-wal|-shm)?)?$")


def pending_path(directory: Path, slug: str) -> Path:
    """Where a run takes its snapshot before any state names it: the name carries the
    process id, so that :func:`sweep` can tell a snapshot of a dead run from a live one."""
    return directory / f"{slug}.p{os.getpid()}.db"


def sweep(directory: Path) -> list[Path]:
    """Remove what runs killed before they recorded their snapshot (kill -9 in steps 1-3)
    left behind: pending snapshots, ``.partial`` copies and their journals whose process is
    gone. Returns the paths removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _PENDING.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class Snapshot(BaseModel):
    source: Path
    path: Path
    journal_mode: str
    pages: int
    size_bytes: int
    seconds: float


def take(source: Path, dest: Path, src: sqlite3.Connection | None = None) -> Snapshot:
    """Copy ``source`` into ``dest`` atomically (temp file + rename); return what was taken.
    With ``src``, a reader of ``source`` holding a read transaction (see :func:`pinned`), the
    copy is of that reader's instant (the backup reuses an open read transaction); it is
    closed afterwards."""
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    src = src or open_readonly(source)
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
        source=source,
        path=dest,
        journal_mode=journal_mode,
        pages=pages,
        size_bytes=dest.stat().st_size,
        seconds=time.monotonic() - started,
    )


class Pinned:
    """Readers of a live WAL file that provably see one instant, the one a snapshot taken
    with :attr:`backup` holds, so that work (column profiling) can read the file while the
    snapshot is copied. Each reader opens a read transaction; ``PRAGMA data_version`` read on a
    watcher before the first and after the last is unchanged only if no connection committed
    in between (the argument of verify's workers). ``None`` from :func:`pinned` when that
    cannot be shown, or when the file is not in WAL mode (there readers would block the
    service's writers for the whole profiling)."""

    def __init__(self, backup: sqlite3.Connection, readers: list[sqlite3.Connection]) -> None:
        self.backup = backup
        self.readers = readers

    def take_reader(self) -> sqlite3.Connection:
        if not self.readers:
            raise SourceError("internal: more readers asked for than pinned")
        return self.readers.pop()

    def close(self) -> None:
        """Close the readers not taken (:func:`take` closes the backup's)."""
        for conn in self.readers:
            conn.close()
        self.readers = []


def pinned(source: Path, readers: int) -> Pinned | None:
    """A reader for the backup and ``readers`` readers of ``source`` at one instant (bytes
    for text, like :func:`open_snapshot`), or None (see :class:`Pinned`)."""
    watcher = open_readonly(source)
    opened: list[sqlite3.Connection] = []
    same = False
    try:
        if str(watcher.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            return None
        version = watcher.execute("PRAGMA data_version").fetchone()[0]
        for _ in range(readers + 1):
            conn = open_readonly(source)
            opened.append(conn)
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        same = watcher.execute("PRAGMA data_version").fetchone()[0] == version
    except sqlite3.Error as exc:
        raise source_error(source, exc) from None
    finally:
        watcher.close()
        if not same:
            for conn in opened:
                conn.close()
    if not same:
        return None
    for conn in opened[1:]:
        conn.text_factory = bytes
    return Pinned(opened[0], opened[1:])


def open_snapshot(path: Path) -> sqlite3.Connection:
    """Open a snapshot for reading: immutable (no locks at all), bytes for text values."""
    if not path.exists():
        raise SourceError(f"snapshot {path} is gone; start over with --restart")
    conn = open_readonly(path, immutable=True)
    conn.text_factory = bytes
    return conn
