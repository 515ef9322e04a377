"""A copy while another process keeps writing to the source (as the Node service does)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.copy.helpers import copy, rows, verified
from vendzz_migrate.sample import generate


@pytest.mark.timeout(300)
def test_copy_while_the_service_writes(pg_url: str, tmp_path: Path) -> None:
    stats = generate(tmp_path / "live.db", rows=20_000, seed=5, clean=True)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vendzz_migrate.sample.live",
            str(stats.path),
            "--max-rows",
            "1000000",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stderr is not None
        assert "started" in writer.stderr.readline()  # the writer has committed once
        report = copy(
            stats.path, pg_url, tmp_path / "work", workers=2, batch_rows=1000, keep_snapshot=True
        )  # looked at below (a finished run removes it)
    finally:
        writer.send_signal(signal.SIGTERM)
        _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err  # never blocked: no 'database is locked'
    assert report.total.rejected_rows == 0
    # PostgreSQL holds exactly the snapshot: one instant of the live file, -wal included
    (snap,) = list((tmp_path / "work" / "snapshots").glob("*.db"))
    lite = sqlite3.connect(f"file:{snap}?mode=ro", uri=True)
    for table in ("quiz_responses", "users"):
        (in_snapshot,) = lite.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert rows(pg_url, f'SELECT count(*) FROM "{table}"') == [(in_snapshot,)]
    lite.close()
    live = sqlite3.connect(stats.path)
    (now,) = live.execute("SELECT count(*) FROM quiz_responses").fetchone()
    assert live.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    live.close()
    (copied,) = rows(pg_url, "SELECT count(*) FROM quiz_responses")[0]
    # the writer had committed before the snapshot: its rows (still in the -wal) were copied
    assert copied > stats.tables["quiz_responses"]
    assert now > copied, "the writer kept writing after the snapshot"
    verified(snap, pg_url)  # PostgreSQL == the snapshot, to the value
