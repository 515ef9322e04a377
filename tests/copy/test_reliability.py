"""Reliability under hostile use (issue #11): no duplicated rows after --data-only --restart,
no success on an empty source, a documented exit code and one line for every expected
failure (PostgreSQL restarted mid-copy included), no snapshot left behind, no secret echoed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import with_dbname
from tests.copy.helpers import cli, copy, copy_cli, rows, started, verified
from tests.pg_cluster import Cluster, remove, start_cluster
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode, StateError
from vendzz_migrate.sample import generate
from vendzz_migrate.sample.models import SampleStats
from vendzz_migrate.source import snapshot

runner = CliRunner()


def two_tables(path: Path) -> Path:
    """A keyed table and a keyless one (with duplicate rows, as logs have)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE users (id TEXT PRIMARY KEY, n INTEGER);"
        "CREATE TABLE logs (msg TEXT, n INTEGER);"
    )
    conn.executemany("INSERT INTO users VALUES (?, ?)", [(f"u{i}", i) for i in range(500)])
    conn.executemany("INSERT INTO logs VALUES (?, ?)", [(f"m{i % 50}", i % 7) for i in range(700)])
    conn.commit()
    conn.close()
    return path


def app_tables(pg_url: str) -> None:
    """The application's empty tables, as a schema-only dump (drizzle-kit) makes them."""
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE users (id text PRIMARY KEY, n bigint);"
            "CREATE TABLE logs (msg text, n bigint)"
        )


def counts(pg_url: str) -> tuple[int, int]:
    return (
        rows(pg_url, "SELECT count(*) FROM users")[0][0],
        rows(pg_url, "SELECT count(*) FROM logs")[0][0],
    )


# -- 1. --data-only --restart ---------------------------------------------------------------


def test_data_only_restart_removes_the_rows_it_loaded(pg_url: str, tmp_path: Path) -> None:
    """--restart after a --data-only run removes that run's rows before loading again: the
    keyless table is not doubled, the keyed one meets no duplicates, verify finds nothing."""
    src = two_tables(tmp_path / "s.db")
    app_tables(pg_url)
    first = copy(src, pg_url, tmp_path, data_only=True, batch_rows=100)
    assert first.total.copied_rows == 1200
    code, out = copy_cli(str(src), pg_url, str(tmp_path), "--data-only")
    assert code == ExitCode.STATE and "--restart" in out  # the advice this test follows

    again = copy(src, pg_url, tmp_path, data_only=True, restart=True, batch_rows=100)
    assert again.total.rejected_rows == 0 and again.total.copied_rows == 1200
    assert counts(pg_url) == (500, 700)
    verified(src, pg_url)


def test_data_only_restart_refuses_when_other_rows_are_there(pg_url: str, tmp_path: Path) -> None:
    """Rows that the run did not load cannot be told apart from its own: refused, nothing
    removed, and the message says what to do."""
    src = two_tables(tmp_path / "s.db")
    app_tables(pg_url)
    copy(src, pg_url, tmp_path, data_only=True, batch_rows=100)
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute("INSERT INTO logs VALUES ('written by the application', 1)")
    with pytest.raises(StateError, match="TRUNCATE"):
        copy(src, pg_url, tmp_path, data_only=True, restart=True, batch_rows=100)
    assert counts(pg_url) == (500, 701)
    (runs,) = rows(pg_url, "SELECT count(*) FROM vendzz_migrate.runs")[0]
    assert runs == 1  # the earlier run's state is kept as well


# -- 2. an empty source -----------------------------------------------------------------------


def test_a_source_without_tables_is_an_error(pg_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")  # zero bytes: SQLite opens it as an empty database
    work = str(tmp_path / "work")
    code, out = copy_cli(str(empty), pg_url, work)
    assert code == ExitCode.SOURCE and "no table" in out, out
    code, out = cli("verify", str(empty), "--target", pg_url)
    assert code == ExitCode.SOURCE and "no table" in out, out
    checked = runner.invoke(
        app,
        ["preflight", "--source", str(empty), "--profile", "dev", "--json", "-"],
        env={"DATABASE_URL": "", "REDIS_URL": ""},
    )
    assert checked.exit_code == ExitCode.CHECK_FAILED, checked.output
    assert '"sqlite.tables"' in checked.output
    # no state was left to block the real file, and no snapshot
    real = two_tables(tmp_path / "real.db")
    code, out = copy_cli(str(real), pg_url, work)
    assert code == ExitCode.OK, out
    assert not list((tmp_path / "work" / "snapshots").iterdir())
    # asked for explicitly, it is accepted
    code, out = copy_cli(
        str(empty),
        pg_url,
        work,
        "--schema",
        "nothing",
        "--allow-empty",
    )
    assert code == ExitCode.OK, out
    code, out = cli(
        "verify", str(empty), "--target", pg_url, "--schema", "nothing", "--allow-empty"
    )
    assert code == ExitCode.OK, out


# -- 3. documented exit codes for expected failures ------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this module's own: it gets restarted."""
    own = start_cluster()
    try:
        yield own
    finally:
        remove(own)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return generate(tmp_path_factory.mktemp("rel") / "vendzz.db", rows=30_000, seed=9, clean=True)


def test_postgresql_restarted_mid_copy_exits_5_then_resume_is_exact(
    cluster: Cluster, sample: SampleStats, tmp_path: Path
) -> None:
    """PostgreSQL restarted for real during step 4: exit 5 (connection) with one line, not
    the advisory unlock's error on the dead connection as a bug (exit 1); --resume then
    copies every row exactly once."""
    name = f"vzt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(cluster.url, name)
    proc = started(sample.path, url, tmp_path, 10)
    assert proc.poll() is None, "the copy ended before PostgreSQL could be restarted"
    cluster.restart()
    proc.wait(timeout=300)
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == ExitCode.CONNECTION, err
    assert "Traceback" not in err and "internal error" not in err
    assert "PostgreSQL ended the connection" in err or "cannot reach PostgreSQL" in err, err
    report = copy(sample.path, url, tmp_path, resume=True, batch_rows=100)
    assert report.resumed and report.total.rejected_rows == 0
    for table, count in sample.tables.items():
        if table != "__drizzle_migrations":
            assert rows(url, f'SELECT count(*) FROM "{table}"')[0] == (count,), table
    verified(sample.path, url)


def test_postgresql_stopped_mid_copy_exits_5_then_resume_is_exact(
    cluster: Cluster, sample: SampleStats, tmp_path: Path
) -> None:
    """PostgreSQL stopped for real during step 4 (and started again only afterwards): the
    workers' retries run out, exit 5 with one line; --resume then finishes exactly."""
    name = f"vzt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(cluster.url, name)
    proc = started(sample.path, url, tmp_path, 10)
    assert proc.poll() is None, "the copy ended before PostgreSQL could be stopped"
    cluster.ctl("-w", "-m", "fast", "stop")
    try:
        proc.wait(timeout=300)
    finally:
        cluster.start()
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == ExitCode.CONNECTION, err
    assert "Traceback" not in err and "internal error" not in err
    report = copy(sample.path, url, tmp_path, resume=True, batch_rows=100)
    assert report.resumed and report.total.rejected_rows == 0
    verified(sample.path, url)


def corrupt(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 300) for i in range(3000)])
    conn.execute("CREATE INDEX t_v ON t (v)")
    conn.commit()
    conn.close()
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # header and schema intact, data pages overwritten
        for offset in range(4096 * 3, size, 4096 * 7):
            fh.seek(offset)
            fh.write(bytes(range(256)) * 16)
    return path


def test_corrupt_pages_are_a_source_error(pg_url: str, tmp_path: Path) -> None:
    src = corrupt(tmp_path / "c.db")
    code, out = copy_cli(str(src), pg_url, str(tmp_path / "work"))
    assert code == ExitCode.SOURCE and "restore it from a backup" in out, out
    code, out = cli("schema", "infer", str(src))
    assert code == ExitCode.SOURCE and "restore it from a backup" in out, out
    assert not list((tmp_path / "work" / "snapshots").iterdir())  # removed with the failure


def test_an_identifier_over_63_bytes_gets_a_proposed_rename(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "long.db"
    long_col, long_table = "c" * 70, "t" * 64
    conn = sqlite3.connect(src)
    conn.execute(
        f'CREATE TABLE "{long_table}" (id INTEGER PRIMARY KEY, "{long_col}" TEXT,'
        f' "{long_col}x" TEXT)'
    )
    conn.execute(f"INSERT INTO \"{long_table}\" VALUES (1, 'a', 'b')")
    conn.commit()
    conn.close()
    mapping = tmp_path / "m.yaml"
    code, out = cli("schema", "infer", str(src), "-o", str(mapping))
    assert code == ExitCode.OK, out
    text = mapping.read_text()
    assert text.count("rename: " + "c" * 50) == 2 and "rename: " + "t" * 50 in text
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--mapping",
        str(mapping),
    )
    assert code == ExitCode.OK, out
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--schema",
        "inferred",
    )  # the copy's own inferred mapping does the same
    assert code == ExitCode.OK, out
    verified(src, pg_url)
    verified(src, pg_url, schema="inferred")


def test_a_rename_onto_another_column_is_a_config_error(pg_url: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "tables:\n  users:\n    columns:\n"
        "      id: {type: text, convert: text}\n"
        "      n: {type: bigint, convert: integer, rename: id}\n"
    )
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--mapping",
        str(mapping),
    )
    assert code == ExitCode.CONFIG, out
    assert "tables.users" in out and "'id' and 'n'" in out


def test_json_into_a_directory_is_refused_before_any_work(pg_url: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--json",
        str(tmp_path),
    )
    assert code == ExitCode.CONFIG and "is a directory" in out, out
    assert rows(pg_url, "SELECT to_regclass('vendzz_migrate.runs')") == [(None,)]
    code, out = cli("verify", str(src), "--target", pg_url, "--junit", str(tmp_path))
    assert code == ExitCode.CONFIG and "is a directory" in out, out


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://postgres@127.0.0.1:5432/x?no_such_param=1", "no_such_param"),
        ("postgresql://postgres@[fe80::1%eth0]:5432/x", "percent-encoded"),
        ("postgresql://postgres@::1/x", "brackets"),
    ],
)
def test_a_bad_url_is_a_config_error(url: str, said: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    code, out = copy_cli(str(src), url, str(tmp_path))
    assert code == ExitCode.CONFIG and said in out, out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("database_url = [\n", "not valid TOML"),
        ('databse_url = "postgresql://x"\n', "unknown setting 'databse_url'"),
    ],
)
def test_a_bad_config_file_is_a_config_error(
    text: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = two_tables(tmp_path / "s.db")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vendzz-migrate.toml").write_text(text)
    code, out = cli("sqlite-to-pg", str(src), "--work-dir", str(tmp_path))
    assert code == ExitCode.CONFIG and said in out, out


# -- 4. snapshots ----------------------------------------------------------------------------


def snapshots(tmp_path: Path) -> list[str]:
    where = tmp_path / "snapshots"
    return sorted(p.name for p in where.iterdir()) if where.is_dir() else []


def test_a_finished_run_removes_its_snapshot(pg_url: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    copy(src, pg_url, tmp_path)
    assert snapshots(tmp_path) == []
    # a failure before the state is recorded (no table to load into) leaves nothing either
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--schema",
        "other",
        "--data-only",
    )
    assert code == ExitCode.STATE, out
    assert snapshots(tmp_path) == []


def test_restart_removes_the_snapshot_an_interrupted_run_kept(pg_url: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    copy(src, pg_url, tmp_path, keep_snapshot=True)
    assert len(snapshots(tmp_path)) == 1  # kept, as an interrupted run's is
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as if it had been interrupted
        conn.execute("UPDATE vendzz_migrate.runs SET status = 'running'")
    copy(src, pg_url, tmp_path, restart=True)
    assert snapshots(tmp_path) == []
    verified(src, pg_url)


def test_leftovers_of_a_run_killed_in_step_1_are_swept(pg_url: str, tmp_path: Path) -> None:
    """A run killed -9 before it recorded its snapshot leaves files named with its process
    id; the next run removes those of dead processes, never those of a live one."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not psutil.pid_exists(gone.pid)
    where = tmp_path / "snapshots"
    where.mkdir()
    # the names a run gives its pending snapshot and the copy in progress (see take())
    mine = snapshot.pending_path(where, "abc").name
    assert mine == f"abc.p{os.getpid()}.db"
    theirs = mine.replace(f".p{os.getpid()}.", f".p{gone.pid}.")
    dead = [
        theirs,
        theirs.replace("abc", "def") + ".partial",
        theirs.replace("abc", "def") + ".partial-journal",
    ]
    alive = f"ghi.p{os.getppid()}.db.partial"
    for name in [*dead, alive]:
        (where / name).write_bytes(b"x" * 1000)
    shown = runner.invoke(
        app,
        ["preflight", "--json", "-", "--profile", "dev"],
        env={"VENDZZ_WORK_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""},
    )
    assert '"host.work_dir"' in shown.output and "4 file(s)" in shown.output, shown.output
    src = two_tables(tmp_path / "s.db")
    copy(src, pg_url, tmp_path)
    assert snapshots(tmp_path) == [alive]


def test_sigterm_stops_the_copy_like_ctrl_c_then_resume_finishes(
    sample: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    """SIGTERM (a service manager's stop) to the copy: exit 130 and the --resume hint, no
    worker left running, and --resume copies every row once."""
    proc = started(sample.path, pg_url, tmp_path, 10)
    workers = psutil.Process(proc.pid).children()
    assert workers, "the copy finished before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "rerun with --resume" in err and "Traceback" not in err
    _, left = psutil.wait_procs(workers, timeout=30)
    assert not left
    report = copy(sample.path, pg_url, tmp_path, resume=True, batch_rows=100)
    assert report.resumed and report.total.rejected_rows == 0
    verified(sample.path, pg_url)


# -- 6. leaks and 7. messages ----------------------------------------------------------------


def test_a_url_without_scheme_is_masked(tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    code, out = copy_cli(
        str(src),
        "app:S3cretPW!x@db.example/app",
        str(tmp_path),
    )
    assert code == ExitCode.CONFIG and "not a PostgreSQL URL" in out
    assert "S3cretPW" not in out and "app:***@db.example/app" in out


def test_a_hot_journal_is_named_with_the_way_out(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "hot.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 200) for i in range(5000)])
    conn.commit()
    conn.close()
    writer = (
        "import os, sqlite3, sys\n"  # a writer killed with pages spilled to the file
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 10'); c.execute('BEGIN')\n"
        "c.execute(\"UPDATE t SET v = v || 'y'\")\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(src)], check=False)
    assert Path(f"{src}-journal").stat().st_size > 0
    code, out = copy_cli(str(src), pg_url, str(tmp_path))
    assert code == ExitCode.SOURCE and "hot rollback journal" in out, out
    assert "readonly database" not in out


def test_resume_without_a_recorded_run_says_a_plain_rerun_is_right(
    pg_url: str, tmp_path: Path
) -> None:
    src = two_tables(tmp_path / "s.db")
    code, out = copy_cli(str(src), pg_url, str(tmp_path), "--resume")
    assert code == ExitCode.STATE and "again without --resume" in out, out


def test_an_empty_mapping_file_says_so(pg_url: str, tmp_path: Path) -> None:
    src = two_tables(tmp_path / "s.db")
    (tmp_path / "m.yaml").write_text("")
    code, out = copy_cli(
        str(src),
        pg_url,
        str(tmp_path),
        "--mapping",
        str(tmp_path / "m.yaml"),
    )
    assert code == ExitCode.CONFIG and "the mapping is empty" in out, out
    assert "valid dictionary" not in out
