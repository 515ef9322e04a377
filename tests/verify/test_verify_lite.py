"""verify's worker processes read the very instant of the file the parent reads, even while
another connection keeps committing to it (real SQLite in WAL mode, real writer thread, real
PostgreSQL, real worker processes)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.verify.helpers import copy, execute, table, verify
from vendzz_migrate.sample.models import SampleStats


def _pair_file(path: Path) -> None:
    """Two tables that a writer always grows together, in one transaction: at every instant
    they hold the same number of rows."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT)")
    for i in range(3000):
        conn.execute("INSERT INTO a (v) VALUES (?)", (f"a{i}",))
        conn.execute("INSERT INTO b (v) VALUES (?)", (f"b{i}",))
    conn.commit()
    conn.close()


def test_workers_read_one_instant_while_a_writer_commits(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "live.db"
    _pair_file(path)
    copy(path, pg_url, tmp_path / "work")
    stop = threading.Event()
    commits = 0

    def write() -> None:
        nonlocal commits
        conn = sqlite3.connect(path, timeout=30)
        while not stop.is_set():
            conn.execute("INSERT INTO a (v) VALUES ('new')")
            conn.execute("INSERT INTO b (v) VALUES ('new')")
            conn.commit()
            commits += 1
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        report = verify(path, pg_url, workers=2, parallel_min_rows=0, split_rows=500)
    finally:
        stop.set()
        writer.join()
    assert commits > 10  # the writer really wrote while verify ran
    a, b = table(report, "a"), table(report, "b")
    assert a.source_rows == b.source_rows > 3000  # one instant, whoever read each table
    assert a.missing == b.missing == a.source_rows - 3000


def test_workers_on_a_quiet_file_find_what_this_process_finds(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "quiet.db"
    _pair_file(path)
    copy(path, pg_url, tmp_path / "work")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE b SET v = 'changed' WHERE id = 7")
    conn.commit()
    conn.close()
    for options in (
        {"workers": 1},
        {"workers": 2, "parallel_min_rows": 0},
        {"workers": 2, "parallel_min_rows": 0, "split_rows": 400},
    ):
        report = verify(path, pg_url, **options)
        b = table(report, "b")
        assert (b.changed, b.missing, b.extra, table(report, "a").status.value) == (1, 0, 0, "ok")
        assert b.differences[0].key == {"id": 7}


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_split_tables_report_what_one_process_reports(
    dirty: SampleStats, copied: str, mode: str
) -> None:
    """The generated dirty file (quarantined rows, NULL keys, orphans) with a few changes:
    tables cut into rowid ranges among workers give the very report of one process."""
    execute(
        copied,
        "UPDATE quiz_responses SET \"responses\" = '[]'::jsonb"
        " WHERE id = (SELECT min(id) FROM quiz_responses)",
    )
    execute(copied, "DELETE FROM sms_logs WHERE id = (SELECT max(id) FROM sms_logs)")
    one = verify(dirty.path, copied, workers=1, mode=mode)
    split = verify(dirty.path, copied, workers=2, parallel_min_rows=0, split_rows=50, mode=mode)
    assert one.tables and not one.ok

    def key(report: object) -> list[object]:
        return [
            (
                t.table,
                t.status,
                t.source_rows,
                t.target_rows,
                t.quarantined,
                t.missing,
                t.extra,
                t.changed,
                t.segments,
                t.mismatched_segments,
                sorted(d.model_dump_json() for d in t.differences),
            )
            for t in report.tables
        ]  # type: ignore[attr-defined]

    assert key(split) == key(one)
    assert sum(t.quarantined for t in one.tables) > 0


def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path: Path, pg_url: str) -> None:
    """A worker process killed mid-task (here it exits at once, as an OOM kill would end it)
    fails its future with a one-line error instead of leaving verify waiting forever."""
    import os

    from vendzz_migrate.errors import CapacityError
    from vendzz_migrate.verify import workers

    path = tmp_path / "quiet.db"
    _pair_file(path)
    pool = workers.Workers(
        path, pg_url, count=1, schema="public", show_values=False, segment_rows=100
    )
    try:
        pool.wait_ready()
        doomed = pool._pool.submit(os._exit, 3)
        with pytest.raises(CapacityError, match="worker process died"):
            workers.result(doomed)
    finally:
        pool.close(wait=False)


def test_a_column_named_rowid_does_not_fool_the_rowid_ranges(tmp_path: Path, pg_url: str) -> None:
    """Ranges, segment reads and point reads use a rowid name no column shadows."""
    path = tmp_path / "shadow.db"
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE s (k TEXT PRIMARY KEY, "rowid" TEXT, v TEXT)')
    conn.executemany(
        "INSERT INTO s VALUES (?, ?, ?)",
        [(f"k{i:05}", f"text rowid {3000 - i}", f"v{i}") for i in range(3000)],
    )
    conn.commit()
    conn.close()
    copy(path, pg_url, tmp_path / "work")
    execute(pg_url, "UPDATE s SET v = 'changed' WHERE k = 'k01234'")
    for mode in ("checksum", "full"):
        for options in ({"workers": 1}, {"workers": 2, "parallel_min_rows": 0, "split_rows": 400}):
            s = table(verify(path, pg_url, mode=mode, **options), "s")
            assert (s.source_rows, s.changed, s.missing, s.extra) == (3000, 1, 0, 0), options
            assert s.differences[0].key == {"k": "k01234"}


def test_workers_fork_only_a_process_without_other_threads() -> None:
    """A forked worker starts at once; a process running other threads spawns its workers
    (a fork would copy locks those threads may hold). The writer test above runs verify with
    a writer thread alive, so it takes the spawn path end to end; the others fork. Checked in
    a fresh interpreter: this test process may hold other tests' threads."""
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from vendzz_migrate import procs\n"
        "assert threading.active_count() == 1\n"
        "first = procs.context().get_start_method()\n"
        "stop = threading.Event()\n"
        "other = threading.Thread(target=stop.wait)\n"
        "other.start()\n"
        "second = procs.context().get_start_method()\n"
        "stop.set()\n"
        "other.join()\n"
        "print(first, second)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["fork", "spawn"]
