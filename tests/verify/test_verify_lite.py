"""The SQLite side's parallel readers: every reader verify opens sees the same instant of a
file that another process keeps writing to (real SQLite, WAL mode, a real writer thread)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from vendzz_migrate.verify import lite


def _wal_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.commit()
    conn.close()


def test_readers_share_one_instant_while_a_writer_commits(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    _wal_file(path)
    stop = threading.Event()

    def write() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        i = 0
        while not stop.is_set():
            conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))  # one commit each
            i += 1
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        seen = 0
        for _ in range(30):
            readers = lite.open_snapshot(path, 3)
            try:
                counts = {r.execute("SELECT count(*), max(id) FROM t").fetchone()
                          for r in readers}
                assert len(counts) == 1, counts  # one instant, whatever the writer did
                seen = max(seen, len(readers))
            finally:
                for r in readers:
                    r.close()
    finally:
        stop.set()
        writer.join()
    assert seen >= 1


def test_readers_of_a_quiet_file(tmp_path: Path) -> None:
    path = tmp_path / "quiet.db"
    _wal_file(path)
    readers = lite.open_snapshot(path, 4)
    try:
        assert len(readers) == 4
        assert {r.execute("SELECT count(*) FROM t").fetchone()[0] for r in readers} == {0}
    finally:
        for r in readers:
            r.close()
