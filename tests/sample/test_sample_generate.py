"""generate(): deterministic, complete schema, clean mode clean, WAL, refuses to overwrite."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.sample import SampleStats, generate

EXPECTED_TABLES = {
    "users",
    "quizzes",
    "quiz_templates",
    "quiz_responses",
    "response_variables",
    "quiz_analytics",
    "sms_campaigns",
    "sms_logs",
    "email_campaigns",
    "email_logs",
    "email_automations",
    "whatsapp_campaigns",
    "whatsapp_logs",
    "stripe_subscriptions",
    "stripe_plans",
    "subscription_plans",
    "checkout_products",
    "credit_transactions",
    "push_subscriptions",
    "courses",
    "lessons",
    "extension_pings",
    "__drizzle_migrations",
}


def dump(conn: sqlite3.Connection) -> dict[str, Any]:
    """Schema and every row of every table, in rowid order, as raw values."""
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    tables = [row[1].decode() for row in schema if row[0] == b"table"]
    return {
        "schema": schema,
        **{
            name: conn.execute(f'SELECT rowid, * FROM "{name}" ORDER BY rowid').fetchall()
            for name in tables
            if not name.startswith("sqlite_stat")
        },
    }


def test_same_arguments_give_the_same_rows(tmp_path: Path, open_db: Any) -> None:
    first = generate(tmp_path / "a.db", rows=1_500, seed=11)
    second = generate(tmp_path / "b.db", rows=1_500, seed=11)
    other = generate(tmp_path / "c.db", rows=1_500, seed=12)
    a, b, c = (dump(open_db(s.path)) for s in (first, second, other))
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], table
    assert first.traps == second.traps
    assert first.tables == second.tables
    assert a["quiz_responses"] != c["quiz_responses"]


def test_schema_objects(clean: SampleStats, open_db: Any) -> None:
    conn = open_db(clean.path)
    objects = {
        (t.decode(), n.decode()): (s or b"").decode()
        for t, n, s in conn.execute("SELECT type, name, sql FROM sqlite_master")
    }
    tables = {name for kind, name in objects if kind == "table"}
    assert EXPECTED_TABLES | {"sqlite_sequence", "sqlite_stat1"} <= tables
    assert set(clean.tables) == EXPECTED_TABLES
    indexes = {name: sql for (kind, name), sql in objects.items() if kind == "index"}
    assert "WHERE status = 'pending'" in indexes["idx_sms_logs_pending"]
    assert "lower(email)" in indexes["idx_users_email_lower"]
    assert "idx_users_email" in indexes
    assert "sqlite_autoindex_users_2" in indexes  # the UNIQUE beside the redundant idx_users_email
    assert "(metadata)" in indexes["idx_quiz_responses_metadata"]
    assert 'campaignType TEXT DEFAULT "standard"' in objects[("table", "sms_campaigns")]
    assert '"order" INTEGER NOT NULL' in objects[("table", "lessons")]
    assert "PRIMARY KEY" not in objects[("table", "extension_pings")]
    assert conn.execute("SELECT name FROM sqlite_sequence").fetchall() == [(b"quiz_templates",)]
    assert conn.execute("SELECT count(*) FROM __drizzle_migrations").fetchone() == (0,)
    published = conn.execute("SELECT sum(published) FROM published_quizzes_per_user").fetchone()
    assert (
        published[0]
        == conn.execute("SELECT count(*) FROM quizzes WHERE isPublished = 1").fetchone()[0]
        > 0
    )
    assert conn.execute("PRAGMA foreign_key_list(response_variables)").fetchall()
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (0,)


def test_row_plan_shares(tmp_path: Path) -> None:
    stats = generate(tmp_path / "big.db", rows=30_000, seed=1, clean=True)
    t = stats.tables
    assert 27_000 < stats.total_rows < 33_000
    assert 1.2 < t["response_variables"] / t["quiz_responses"] < 1.6
    assert t["quiz_responses"] > max(t["sms_logs"], t["whatsapp_logs"], t["email_logs"])
    assert t["sms_logs"] > t["email_logs"] > t["users"]
    assert t["users"] < 200
    assert stats.traps == []


@pytest.mark.parametrize("wal", [True, False])
def test_journal_mode_and_integrity(tmp_path: Path, wal: bool, open_db: Any) -> None:
    stats = generate(tmp_path / "j.db", rows=300, wal=wal)
    conn = open_db(stats.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == (b"wal" if wal else b"delete")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [(b"ok",)]
    assert conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    assert not list(tmp_path.glob("*.tmp"))


def test_counts_match_the_file(dirty: SampleStats, open_db: Any) -> None:
    conn = open_db(dirty.path)
    for table, count in dirty.tables.items():
        assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == count


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "x.db"
    target.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="already exists"):
        generate(target, rows=300)
    assert target.read_bytes() == b"precious"
    stats = generate(target, rows=300, force=True)
    assert stats.tables["users"] > 0
    assert target.read_bytes()[:16] == b"SQLite format 3\x00"


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least"):
        generate(tmp_path / "x.db", rows=5)
    with pytest.raises(ConfigError, match="does not exist"):
        generate(tmp_path / "missing" / "x.db", rows=300)
    with pytest.raises(ConfigError, match="directory"):
        generate(tmp_path, rows=300, force=True)
