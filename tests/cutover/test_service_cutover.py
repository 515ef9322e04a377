"""A cutover of the reference service (a subprocess, on a sample file) with the writer client
writing throughout: every acknowledged write ends in PostgreSQL, once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cutover.helpers import pg_rows
from tests.cutover.service_rig import service_rig
from tests.examples.service.helpers import wait_until
from vendzz_migrate.cutover import capture, engine
from vendzz_migrate.cutover.plan import load


def test_service_cutover_loses_no_acknowledged_write(
    tmp_path: Path, pg_url: str, sample: Path
) -> None:
    with service_rig(tmp_path, pg_url, sample) as rig:
        wait_until(lambda: len(rig.acked()) >= 10, "the writer's first writes")
        report = engine.run(load(rig.plan_path))
        on_pg = len(rig.acked())
        wait_until(lambda: len(rig.acked()) >= on_pg + 10, "writes on PostgreSQL")
        summary = rig.stop_writer()
    assert report.state == "done" and report.freeze_seconds is not None
    acked = rig.acked()
    assert summary.acknowledged == len(acked) and summary.failed == 0, summary
    assert summary.retried_503 > 0  # the freeze was felt as 503 + retry, not as errors
    ids = [str(r[0]) for r in pg_rows(pg_url, "SELECT id FROM quiz_responses")]
    assert len(ids) == len(set(ids))
    missing = set(acked) - set(ids)
    assert not missing, f"{len(missing)} acknowledged write(s) not in PostgreSQL"
    assert len(acked) == len(set(acked))  # and none acknowledged twice
    conn = sqlite3.connect(rig.source)
    try:
        assert capture.leftovers(conn) == []
    finally:
        conn.close()


def test_service_smoke_failure_switches_back(tmp_path: Path, pg_url: str, sample: Path) -> None:
    bad = [{"path": "/api/quizzes/no-such-quiz", "expect_status": 200}]
    with service_rig(tmp_path, pg_url, sample, smoke=bad) as rig:
        wait_until(lambda: len(rig.acked()) >= 10, "the writer's first writes")
        with pytest.raises(engine.CutoverAborted, match="smoke failed"):
            engine.run(load(rig.plan_path))
        before = len(rig.acked())
        wait_until(lambda: len(rig.acked()) >= before + 10, "writes on SQLite again")
        summary = rig.stop_writer()
    assert summary.failed == 0, summary
    conn = sqlite3.connect(rig.source)
    try:
        ids = {r[0] for r in conn.execute("SELECT id FROM quiz_responses")}
        assert capture.leftovers(conn) == []
    finally:
        conn.close()
    assert set(rig.acked()) <= ids, "an acknowledged write is not in SQLite"


@pytest.mark.parametrize(("when", "step"), [("after", "switch"), ("at", "final-delta")])
def test_service_cutover_killed_then_resumed(
    tmp_path: Path, pg_url: str, sample: Path, when: str, step: str
) -> None:
    from tests.cutover.test_engine import _cli

    with service_rig(tmp_path, pg_url, sample) as rig:
        wait_until(lambda: len(rig.acked()) >= 10, "the writer's first writes")
        killed = (
            _cli(rig.plan_path, kill_after=step)
            if when == "after"
            else _cli(rig.plan_path, kill_at=step)
        )
        assert killed.returncode == -9, killed.stderr[-2000:]
        resumed = _cli(rig.plan_path, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        on_pg = len(rig.acked())
        wait_until(lambda: len(rig.acked()) >= on_pg + 10, "writes on PostgreSQL")
        summary = rig.stop_writer()
    acked = rig.acked()
    assert summary.failed == 0, summary
    ids = {str(r[0]) for r in pg_rows(pg_url, "SELECT id FROM quiz_responses")}
    assert not set(acked) - ids and len(acked) == len(set(acked))
