"""cutover -> writes on PostgreSQL -> --rollback -> cutover again, driven by the real engine with
#16's stand-in service (a writer thread that follows the freeze and switch flag files): every
acknowledged write of both eras ends in SQLite, and the second cutover copies it all again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from tests.cutover.rig import rig
from vendzz_migrate.cutover import engine, pg_capture, rollback
from vendzz_migrate.cutover.journal import open_journal
from vendzz_migrate.cutover.plan import load


def lite_ids(source: Path) -> set[int]:
    with sqlite3.connect(source) as conn:
        return {int(r[0]) for r in conn.execute("SELECT id FROM quiz_responses")}


def test_cutover_rollback_cutover_again(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        plan = load(r.plan_path)
        engine.run(plan)
        with psycopg.connect(pg_url, autocommit=True) as pg:
            assert "quiz_responses" in pg_capture.installed(pg)
        on_pg = len(r.writer.acked)
        r.wait_acks(on_pg + 200)  # writes on PostgreSQL, captured
        dry = rollback.rollback(plan, dry_run=True)
        assert dry.changed_keys.get("quiz_responses", 0) >= 200
        report = rollback.rollback(plan)
        assert report.mode == "rollback" and not report.unfit
        assert report.freeze_seconds is not None
        after = len(r.writer.acked)
        r.wait_acks(after + 50)  # the writer goes on, on SQLite again
        assert not (tmp_path / "on_pg").exists()
        acked = set(r.writer.acked)  # each id is in the ack list only once committed
        missing = acked - lite_ids(r.source)
        assert not missing, sorted(missing)[:20]
        with psycopg.connect(pg_url, autocommit=True) as pg:
            assert pg_capture.installed(pg) == []
            assert open_journal(plan, pg).state() == "rolled-back"
        # and a second cutover: capture reinstalled, every row once
        engine.run(plan)
        r.wait_acks(len(r.writer.acked) + 50)
        r.writer.stop.set()
    assert not r.writer.errors, r.writer.errors
    with psycopg.connect(pg_url, autocommit=True) as pg:
        assert "quiz_responses" in pg_capture.installed(pg)
        rows = pg.execute("SELECT count(*), count(DISTINCT id) FROM quiz_responses").fetchone()
        assert rows is not None and rows[0] == rows[1]
        ids = {int(x[0]) for x in pg.execute("SELECT id FROM quiz_responses").fetchall()}
    assert set(r.writer.acked) <= ids
