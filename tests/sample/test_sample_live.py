"""live_writer: writes in small committed transactions while readers keep their snapshot."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from vendzz_migrate.errors import SourceError
from vendzz_migrate.sample import SampleStats, live_writer

COUNT = "SELECT count(*) FROM quiz_responses"


def test_writes_while_a_reader_holds_a_snapshot(dirty: SampleStats, open_db: Any) -> None:
    reader, fresh = open_db(dirty.path), open_db(dirty.path)
    before = dirty.tables["quiz_responses"]
    reader.execute("BEGIN")
    assert reader.execute(COUNT).fetchone()[0] == before
    assert live_writer(dirty.path, max_rows=40) == 40
    assert reader.execute(COUNT).fetchone()[0] == before  # the snapshot did not move
    assert fresh.execute(COUNT).fetchone()[0] == before + 40
    reader.execute("COMMIT")
    assert reader.execute(COUNT).fetchone()[0] == before + 40
    completed = fresh.execute(
        "SELECT metadata FROM quiz_responses ORDER BY rowid DESC LIMIT 40"
    ).fetchall()
    flags = [json.loads(m)["isComplete"] for (m,) in completed]
    assert flags.count(True) >= 19  # every other transaction completed a partial session
    assert fresh.execute("PRAGMA integrity_check").fetchone() == (b"ok",)


def test_second_run_writes_new_ids(dirty: SampleStats, open_db: Any) -> None:
    assert live_writer(dirty.path, max_rows=10) == 10
    assert live_writer(dirty.path, max_rows=10) == 10
    conn = open_db(dirty.path)
    assert conn.execute(COUNT).fetchone()[0] == dirty.tables["quiz_responses"] + 20


def test_stops_on_the_event_while_a_reader_polls(dirty: SampleStats, open_db: Any) -> None:
    stop = threading.Event()
    result: list[int] = []
    writer = threading.Thread(
        target=lambda: result.append(live_writer(dirty.path, stop=stop, max_rows=10**9))
    )
    writer.start()
    reader = open_db(dirty.path)
    before = dirty.tables["quiz_responses"]
    try:
        seen = before
        while seen == before and writer.is_alive():  # each read is a real query, no sleep
            seen = reader.execute(COUNT).fetchone()[0]
    finally:
        stop.set()
        writer.join(timeout=120)
    assert not writer.is_alive()
    assert seen > before
    assert result == [reader.execute(COUNT).fetchone()[0] - before]


def test_runs_as_its_own_process(dirty: SampleStats, open_db: Any) -> None:
    reader = open_db(dirty.path)
    reader.execute("BEGIN")
    before = reader.execute(COUNT).fetchone()[0]
    done = subprocess.run(
        [sys.executable, "-m", "vendzz_migrate.sample.live", str(dirty.path), "--max-rows", "60"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "60"
    assert "started" in done.stderr
    assert reader.execute(COUNT).fetchone()[0] == before
    reader.execute("COMMIT")
    assert reader.execute(COUNT).fetchone()[0] == before + 60


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such"):
        live_writer(tmp_path / "nope.db", max_rows=1)
    assert not (tmp_path / "nope.db").exists()


def test_not_sqlite(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just text " * 200)
    with pytest.raises(SourceError):
        live_writer(junk, max_rows=1)
