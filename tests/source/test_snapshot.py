"""The snapshot of a live WAL file, and readers pinned to its instant (for profiling while it
is copied)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vendzz_migrate.source import snapshot


def _file(path: Path, journal: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{i}",) for i in range(100)])
    conn.commit()
    conn.close()


def test_pinned_readers_and_the_snapshot_share_one_instant(tmp_path: Path) -> None:
    """Commits made after the readers are pinned are in neither the readers' view nor the
    snapshot copied through the pinned backup reader, even when the copy starts later."""
    path = tmp_path / "live.db"
    _file(path, "wal")
    pins = snapshot.pinned(path, 2)
    assert pins is not None
    writer = sqlite3.connect(path)
    writer.executemany("INSERT INTO t (v) VALUES (?)", [("late",)] * 50)
    writer.commit()
    readers = [pins.take_reader(), pins.take_reader()]
    taken = snapshot.take(path, tmp_path / "snap.db", pins.backup)
    pins.close()
    assert [r.execute("SELECT count(*) FROM t").fetchone()[0] for r in readers] == [100, 100]
    assert readers[0].execute("SELECT v FROM t WHERE id = 1").fetchone()[0] == b"v0"  # bytes
    for reader in readers:
        reader.close()
    snap = snapshot.open_snapshot(taken.path)
    assert snap.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    snap.close()
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 150
    writer.close()


def test_no_pinned_readers_without_wal(tmp_path: Path) -> None:
    """In rollback-journal mode readers would block the service's writers while they work."""
    path = tmp_path / "journal.db"
    _file(path, "delete")
    assert snapshot.pinned(path, 2) is None
    writer = sqlite3.connect(path, timeout=0.1)
    writer.execute("INSERT INTO t (v) VALUES ('x')")  # no reader left holding a lock
    writer.commit()
    writer.close()
