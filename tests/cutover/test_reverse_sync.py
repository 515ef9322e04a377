"""PostgreSQL capture and the reverse delta sync, on a real copy of a generated Vendzz file:
writes made on PostgreSQL (inserts, updates, deletes, keys reused, rows created and deleted)
come back into SQLite in the encodings the SQLite service wrote; what cannot, is listed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.copy.helpers import copy
from vendzz_migrate.cutover import pg_capture
from vendzz_migrate.cutover.reverse_sync import open_sqlite, sync, verify_changed
from vendzz_migrate.sample import generate
from vendzz_migrate.state.store import Store
from vendzz_migrate.typemap.mapping import Mapping, parse


@dataclass
class Env:
    lite: Path
    pg: psycopg.Connection[Any]
    mapping: Mapping
    since: int


@pytest.fixture
def env(pg_url: str, tmp_path: Path) -> Iterator[Env]:
    stats = generate(tmp_path / "vendzz.db", rows=300, seed=5, clean=True)
    copy(stats.path, pg_url, tmp_path / "work")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        run = Store(conn).active_run("public")
        assert run is not None
        since = pg_capture.capture_all(conn)
        yield Env(stats.path, conn, parse(run.mapping), since)


def lite_row(path: Path, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    with sqlite3.connect(path) as conn:
        row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
        return row


def one(pg: psycopg.Connection[Any], sql: str) -> Any:
    row = pg.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


def carry(env: Env) -> tuple[Any, Any]:
    changed = pg_capture.changed_keys(env.pg, env.since)
    lite = open_sqlite(env.lite)
    try:
        result = sync(env.pg, lite, env.mapping, changed)
        report = verify_changed(env.pg, lite, env.mapping, changed)
    finally:
        lite.close()
    return result, report


def test_capture_logs_every_write_with_its_key(env: Env) -> None:
    pg = env.pg
    assert "users" in pg_capture.installed(pg)
    pg.execute("UPDATE quizzes SET title = 'x' WHERE id = (SELECT min(id) FROM quizzes)")
    pg.execute("INSERT INTO quiz_templates (name, structure) VALUES ('n', '{}')")
    with pg.transaction():
        pg.execute("SET LOCAL vendzz.capture = 'off'")
        pg.execute("UPDATE users SET plan = 'pro'")  # not captured
    with pytest.raises(psycopg.errors.DivisionByZero):  # rolled back: nothing logged
        pg.execute("UPDATE users SET plan = 'x' WHERE 1/0 = 1 OR true")
    pg.execute(
        "UPDATE credit_transactions SET id = 'new-key' WHERE id ="
        " (SELECT min(id) FROM credit_transactions)"
    )
    pg.execute("TRUNCATE lessons")
    changes = pg_capture.changes(pg, env.since)
    assert [c.op for c in changes] == ["U", "I", "D", "U", "T"]
    assert changes[1].table == "quiz_templates" and changes[1].key == {"id": 4}
    assert changes[3].key == {"id": "new-key"}
    changed = pg_capture.changed_keys(pg, env.since)
    assert changed.counts() == {"quizzes": 1, "quiz_templates": 1, "credit_transactions": 2}
    assert changed.truncated == {"lessons"} and changed.high == changes[-1].seq
    assert pg_capture.backlog(pg, changes[2].seq) == {"credit_transactions": 1, "lessons": 1}
    assert "users" in pg_capture.remove(pg)
    assert pg_capture.installed(pg) == [] and pg_capture.high_water(pg) == 0
    pg.execute("UPDATE users SET plan = 'free'")  # no trigger, no log: nothing fails


def test_writes_on_postgres_come_back_in_sqlite_encodings(env: Env) -> None:
    pg = env.pg
    quiz, old_created = lite_row(env.lite, "SELECT id, createdAt FROM quizzes LIMIT 1") or ()
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    pg.execute(
        'UPDATE quizzes SET title = %s, "isPublished" = NOT "isPublished",'
        ' "updatedAt" = %s WHERE id = %s',
        ("Novo título ✓", at, quiz),
    )
    pg.execute(
        'INSERT INTO quiz_templates (name, structure, "createdAt") VALUES'
        " (%s, %s, %s) RETURNING id",
        ("novo", '{"pages": [1, 2]}', at),
    )
    new_id = one(pg, "SELECT max(id) FROM quiz_templates")
    gone = one(pg, "SELECT min(id) FROM credit_transactions")
    pg.execute("DELETE FROM credit_transactions WHERE id = %s", (gone,))
    campaign = one(pg, "SELECT min(id) FROM sms_campaigns")
    pg.execute("UPDATE sms_campaigns SET phones = '[\"5511999999999\"]' WHERE id = %s", (campaign,))
    # a row created then deleted, and a key deleted then reused
    pg.execute("INSERT INTO quiz_templates (name, structure) VALUES ('tmp', '[]')")
    pg.execute("DELETE FROM quiz_templates WHERE name = 'tmp'")
    row = pg.execute("SELECT * FROM credit_transactions ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    pg.execute("DELETE FROM credit_transactions WHERE id = %s", (row[0],))
    pg.execute(
        'INSERT INTO credit_transactions SELECT %s, "userId", type, amount + 1,'
        ' operation, reason, metadata, "createdAt" FROM (SELECT %s::text AS "userId",'
        " %s::text AS type, %s::bigint AS amount, %s::text AS operation, %s::text AS"
        ' reason, %s::jsonb AS metadata, %s::timestamptz AS "createdAt") s',
        (row[0], *row[1:6], json.dumps(row[6]), row[7]),
    )

    result, report = carry(env)
    assert not result.unfit and report.ok, (result, report)
    assert result.deleted == {"credit_transactions": 1}
    # the SQLite service reads its rows back as it wrote them
    title, published, updated, created = (
        lite_row(
            env.lite,
            "SELECT title, typeof(isPublished) || isPublished, updatedAt, createdAt"
            " FROM quizzes WHERE id = ?",
            (quiz,),
        )
        or ()
    )
    assert title == "Novo título ✓" and published in ("integer0", "integer1")
    assert created == old_created and isinstance(updated, int)
    assert updated in (int(at.timestamp()), int(at.timestamp() * 1000))
    template = lite_row(
        env.lite, "SELECT name, structure, createdAt FROM quiz_templates WHERE id = ?", (new_id,)
    )
    assert template == ("novo", '{"pages":[1,2]}', int(at.timestamp()))
    assert lite_row(env.lite, "SELECT 1 FROM credit_transactions WHERE id = ?", (gone,)) is None
    assert lite_row(env.lite, "SELECT 1 FROM quiz_templates WHERE name = 'tmp'") is None
    phones = lite_row(env.lite, "SELECT phones FROM sms_campaigns WHERE id = ?", (campaign,))
    assert phones is not None and json.loads(phones[0]) == ["5511999999999"]
    reused = lite_row(env.lite, "SELECT amount FROM credit_transactions WHERE id = ?", (row[0],))
    assert reused == (row[3] + 1,)
    # AUTOINCREMENT goes on after the ids PostgreSQL gave
    with sqlite3.connect(env.lite) as conn:
        conn.execute("INSERT INTO quiz_templates (name, structure) VALUES ('after', '{}')")
        (after,) = conn.execute("SELECT max(id) FROM quiz_templates").fetchone()
    assert after > new_id
    # idempotent: a second run writes nothing
    again, report2 = carry(env)
    assert sum(again.written.values()) == 0 and report2.ok


def test_values_sqlite_cannot_take_are_listed_and_not_written(env: Env) -> None:
    pg = env.pg
    quiz, before = lite_row(env.lite, "SELECT id, updatedAt FROM quizzes LIMIT 1") or ()
    pg.execute(
        'UPDATE quizzes SET "updatedAt" = %s, title = %s WHERE id = %s',
        (datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "changed", quiz),
    )
    result, report = carry(env)
    assert [(u.table, u.key, u.column) for u in result.unfit] == [
        ("quizzes", {"id": quiz}, "updatedAt")
    ]
    assert "precision" in result.unfit[0].reason
    assert lite_row(env.lite, "SELECT updatedAt FROM quizzes WHERE id = ?", (quiz,)) == (before,)
    assert not report.ok and report.diffs[0].key == {"id": quiz}


def test_truncate_on_postgres_empties_the_sqlite_table(env: Env) -> None:
    env.pg.execute("TRUNCATE lessons")
    env.pg.execute("INSERT INTO lessons SELECT * FROM lessons")  # nothing: stays empty
    result, report = carry(env)
    assert report.ok, report
    assert lite_row(env.lite, "SELECT count(*) FROM lessons") == (0,)
    assert result.deleted["lessons"] == 10


def test_a_write_committed_late_with_a_lower_seq_is_not_missed(env: Env, pg_url: str) -> None:
    pg = env.pg
    with psycopg.connect(pg_url) as slow:  # takes its seq first, commits last
        slow.execute("UPDATE quizzes SET title = 'slow' WHERE id = (SELECT min(id) FROM quizzes)")
        pg.execute("UPDATE users SET plan = 'pro' WHERE id = (SELECT min(id) FROM users)")
        first = pg_capture.changed_keys(pg, env.since)
        assert first.counts() == {"users": 1}  # the slow write is not visible yet
        slow.commit()
    later = pg_capture.changed_keys(pg, first.high, since_xmin=first.xmin)
    assert later.counts()["quizzes"] == 1  # (users may be read again: harmless)
    assert pg_capture.changed_keys(pg, first.high).counts() == {}  # by seq alone: missed
