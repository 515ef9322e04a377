"""Crash safety: kill -9 in the middle of a copy, then --resume: no row lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from typer.testing import CliRunner

from tests.copy.helpers import copy, rows, started, units_done, verified
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.sample import generate
from vendzz_migrate.sample.models import SampleStats

runner = CliRunner()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return generate(
        tmp_path_factory.mktemp("resume") / "vendzz.db", rows=30_000, seed=9, clean=True
    )


def resumed_exactly(source: SampleStats, pg_url: str, tmp_path: Path) -> None:
    """--resume finishes the copy: every table holds exactly its rows, verify finds nothing."""
    report = copy(source.path, pg_url, tmp_path, resume=True, batch_rows=100)
    assert report.resumed and report.total.rejected_rows == 0
    assert report.snapshot_seconds == 0  # the interrupted run's snapshot, not a new one
    for name, count in source.tables.items():
        if name != "__drizzle_migrations":
            assert rows(pg_url, f'SELECT count(*) FROM "{name}"')[0] == (count,), name
    verified(source.path, pg_url)


def test_kill_9_then_resume(source: SampleStats, pg_url: str, tmp_path: Path) -> None:
    proc = started(source.path, pg_url, tmp_path, 20)
    workers = psutil.Process(proc.pid).children()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the copy finished before it could be killed"
    assert len(workers) == 2  # the copy's worker processes die with it (nothing left writing)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    (total,) = rows(pg_url, "SELECT count(*) FROM vendzz_migrate.units")[0]
    assert 20 <= units_done(pg_url) < total

    again = runner.invoke(
        app, ["sqlite-to-pg", str(source.path), "--target", pg_url, "--work-dir", str(tmp_path)]
    )
    assert again.exit_code == ExitCode.STATE and "--resume" in again.output

    resumed_exactly(source, pg_url, tmp_path)
    # every primary key was built, so no row was duplicated
    (pks,) = rows(
        pg_url,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'p'"
        " AND connamespace = 'public'::regnamespace",
    )[0]
    lite = sqlite3.connect(source.path)
    (keyed,) = lite.execute(
        "SELECT count(*) FROM sqlite_master m WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name <> '__drizzle_migrations'"
        " AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE pk > 0)"
    ).fetchone()
    lite.close()
    assert pks == keyed


def test_a_worker_killed_stops_the_copy_with_one_line_then_resume_finishes(
    source: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    """A copy worker process killed (as by the OOM killer) stops the run with exit 12 and a
    one-line reason, no traceback; --resume then copies every row exactly once."""
    proc = started(source.path, pg_url, tmp_path, 10)
    workers = psutil.Process(proc.pid).children()
    assert workers, "the copy finished before a worker could be killed"
    workers[0].kill()
    proc.wait(timeout=120)
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == ExitCode.CAPACITY, err
    assert "worker process died" in err and "Traceback" not in err
    (total,) = rows(pg_url, "SELECT count(*) FROM vendzz_migrate.units")[0]
    assert units_done(pg_url) < total
    resumed_exactly(source, pg_url, tmp_path)


def test_ctrl_c_stops_the_copy_and_its_workers_then_resume_finishes(
    source: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it): exit 130 with one
    line and no traceback, no worker left running, and --resume copies every row once."""
    proc = started(source.path, pg_url, tmp_path, 10, start_new_session=True)
    workers = psutil.Process(proc.pid).children()
    assert workers, "the copy finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=120)
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    resumed_exactly(source, pg_url, tmp_path)


def test_resume_refuses_other_options(source: SampleStats, pg_url: str, tmp_path: Path) -> None:
    copy(source.path, pg_url, tmp_path, batch_rows=5000)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as if it had been interrupted
        conn.execute("UPDATE vendzz_migrate.runs SET status = 'running'")
    result = runner.invoke(
        app,
        [
            "sqlite-to-pg",
            str(source.path),
            "--target",
            pg_url,
            "--work-dir",
            str(tmp_path),
            "--resume",
            "--batch-rows",
            "7",
        ],
    )
    assert result.exit_code == ExitCode.STATE and "batch_rows" in result.output
    both = runner.invoke(
        app,
        [
            "sqlite-to-pg",
            str(source.path),
            "--target",
            pg_url,
            "--work-dir",
            str(tmp_path),
            "--restart",
            "--resume",
        ],
    )
    assert both.exit_code == ExitCode.STATE


def test_restart_drops_only_what_it_created(
    source: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE app_owned (x int)")
    copy(source.path, pg_url, tmp_path)
    report = copy(source.path, pg_url, tmp_path, restart=True)
    assert report.total.rejected_rows == 0
    (runs,) = rows(pg_url, "SELECT count(*) FROM vendzz_migrate.runs")[0]
    assert runs == 1
    assert rows(pg_url, "SELECT count(*) FROM app_owned") == [(0,)]


def test_dropped_connections_are_retried(source: SampleStats, pg_url: str, tmp_path: Path) -> None:
    """A PostgreSQL connection killed mid-copy (as by a restart) is retried, nothing lost."""
    import threading

    from vendzz_migrate.copy.run import CopyOptions, run

    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["report"] = run(
                CopyOptions(
                    source=source.path,
                    target_url=pg_url,
                    work_dir=tmp_path,
                    batch_rows=100,
                    workers=2,
                )
            )
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 120
    killed = 0  # once 10 units are in, the data connections are killed (again while none is)
    while not killed and thread.is_alive() and time.monotonic() < deadline:
        if units_done(pg_url) >= 10:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                found = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'vendzz-migrate:sqlite-to-pg:data'"
                    " AND datname = current_database()"
                ).fetchone()
            killed = int(found[0]) if found else 0
        time.sleep(0.02)
    thread.join(300)
    assert killed >= 1, "no copy connection was there to kill"
    assert "error" not in result, result.get("error")
    verified(source.path, pg_url)
