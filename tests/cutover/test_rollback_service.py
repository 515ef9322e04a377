"""The reference service (a subprocess) cut over to PostgreSQL, written to there by the writer
client, then rolled back with the client still writing: the service runs on SQLite again,
every acknowledged write of both eras is in SQLite, written in the encodings the SQLite
service uses, and the rows of the SQLite era read back exactly as before."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cutover.service_rig import ServiceRig, service_rig
from tests.cutover.test_rollback import _KILLER
from tests.examples.service.helpers import wait_until
from vendzz_migrate.cutover import engine, rollback
from vendzz_migrate.cutover.plan import load


def rows(source: Path, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """quiz_responses rows as stored (storage class and bytes of every value)."""
    conn = sqlite3.connect(source)
    conn.text_factory = bytes
    try:
        cols = [r[1].decode() for r in conn.execute("PRAGMA table_info(quiz_responses)")]
        sel = ", ".join(f'typeof("{c}"), "{c}"' for c in cols)
        out = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for row in conn.execute(
                f"SELECT id, {sel} FROM quiz_responses WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                out[row[0].decode()] = tuple(row[1:])
        return out
    finally:
        conn.close()


def quiz_views(url: str, ids: list[str]) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return {i: client.get(f"/api/quizzes/{i}").json() for i in ids}


def cut_over_and_write(rig: ServiceRig) -> tuple[dict[str, tuple[Any, ...]], list[str]]:
    wait_until(lambda: len(rig.acked()) >= 10, "the writer's first writes on SQLite")
    conn = sqlite3.connect(rig.source)
    quizzes = [
        r[0]
        for r in conn.execute("SELECT id FROM quizzes WHERE isPublished = 1 ORDER BY id LIMIT 5")
    ]
    conn.close()
    engine.run(load(rig.plan_path))
    sqlite_era = rows(rig.source, rig.acked())
    on_pg = len(rig.acked())
    wait_until(lambda: len(rig.acked()) >= on_pg + 40, "writes on PostgreSQL")
    return sqlite_era, quizzes


def check_back_on_sqlite(
    rig: ServiceRig, sqlite_era: dict[str, tuple[Any, ...]], pg_views: dict[str, Any]
) -> None:
    before = len(rig.acked())
    wait_until(lambda: len(rig.acked()) >= before + 10, "writes on SQLite again")
    summary = rig.stop_writer()
    assert summary.failed == 0 and summary.abandoned == 0, summary
    health = httpx.get(f"{rig.running.url}/health", timeout=10).json()
    assert health["database"]["kind"] == "sqlite", health
    ids = rig.acked()
    total, missing = rollback.acked_in_sqlite(rig.source, rig.ack_log)
    assert total == len(ids) > 0 and missing == 0
    now = rows(rig.source, ids)
    assert {i: now[i] for i in sqlite_era} == sqlite_era  # the SQLite era, byte for byte
    old_kinds = {
        (r[8], r[9] < b"100000000000" if isinstance(r[9], bytes) else r[9] < 10**11)
        for r in sqlite_era.values()
    }
    for i in set(ids) - set(sqlite_era):  # the PostgreSQL era, in the SQLite service's encodings
        row = now[i]
        assert (
            row[4] == b"text"
            and json.dumps(json.loads(row[5]), separators=(",", ":"), ensure_ascii=False).encode()
            == row[5]
        )
        assert (row[8], row[9] < 10**11) in old_kinds, row
    # the service on SQLite answers as it did on PostgreSQL
    assert quiz_views(rig.running.url, list(pg_views)) == pg_views


def test_rollback_with_the_service_and_the_writer(
    tmp_path: Path, pg_url: str, sample: Path
) -> None:
    with service_rig(tmp_path, pg_url, sample) as rig:
        sqlite_era, quizzes = cut_over_and_write(rig)
        pg_views = quiz_views(rig.running.url, quizzes)
        plan = load(rig.plan_path)
        dry = rollback.rollback(plan, dry_run=True)
        assert dry.changed_keys["quiz_responses"] >= 40
        report = rollback.rollback(plan)
        assert report.mode == "rollback" and not report.verify_diffs and not report.unfit
        assert report.freeze_seconds is not None and report.freeze_seconds < 60
        check_back_on_sqlite(rig, sqlite_era, pg_views)


@pytest.mark.parametrize("step", [*rollback.STEPS, "reverse-sync-middle"])
def test_kill_9_in_a_rollback_step_with_the_service(
    tmp_path: Path, pg_url: str, sample: Path, step: str
) -> None:
    with service_rig(tmp_path, pg_url, sample) as rig:
        sqlite_era, quizzes = cut_over_and_write(rig)
        pg_views = quiz_views(rig.running.url, quizzes)
        plan = load(rig.plan_path)
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(plan.model_dump_json(by_alias=True))
        killed = subprocess.run(
            [sys.executable, "-c", _KILLER, str(plan_file), step],
            capture_output=True,
            timeout=300,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ},
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
        report = rollback.rollback(plan)  # --rollback again
        assert report.mode == "rollback" and not report.verify_diffs
        check_back_on_sqlite(rig, sqlite_era, pg_views)


def test_cutover_rollback_cutover_again_with_the_service(
    tmp_path: Path, pg_url: str, sample: Path
) -> None:
    from tests.cutover.helpers import pg_rows

    with service_rig(tmp_path, pg_url, sample) as rig:
        cut_over_and_write(rig)
        plan = load(rig.plan_path)
        rollback.rollback(plan)
        back = len(rig.acked())
        wait_until(lambda: len(rig.acked()) >= back + 20, "writes on SQLite after the rollback")
        again = engine.run(plan)  # the second cutover: a new copy, capture reinstalled
        assert again.state == "done"
        on_pg = len(rig.acked())
        wait_until(lambda: len(rig.acked()) >= on_pg + 20, "writes on PostgreSQL again")
        summary = rig.stop_writer()
        dry = rollback.rollback(plan, dry_run=True)  # the new PostgreSQL era is captured
        assert dry.changed_keys.get("quiz_responses", 0) >= 20
    assert summary.failed == 0, summary
    ids = [str(r[0]) for r in pg_rows(pg_url, "SELECT id FROM quiz_responses")]
    assert len(ids) == len(set(ids))  # no row twice
    assert set(rig.acked()) <= set(ids), "an acknowledged write is not in PostgreSQL"
