"""The SQLite source: journal mode, integrity, orphans, sizes, typeof census; read-only."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from vendzz_migrate.errors import SourceError
from vendzz_migrate.preflight.model import Status
from vendzz_migrate.preflight.profile import load_profile
from vendzz_migrate.preflight.sqlite_source import affinity, read_sqlite_facts, sqlite_checks

SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, created_at INTEGER,
                    plan_expires DATETIME, price REAL, meta JSON, blob_col BLOB);
CREATE TABLE quizzes (id TEXT PRIMARY KEY, user_id TEXT REFERENCES users(id), views INTEGER);
CREATE TABLE leads (id INTEGER PRIMARY KEY, quiz_id TEXT REFERENCES quizzes(id),
                    user_id TEXT REFERENCES users(id));
"""


def make_db(path: Path, *, wal: bool, orphans: bool, mixed: bool) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={'wal' if wal else 'delete'}")
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO users VALUES ('u1', 'a@b', 1700000000, '2024-01-01 10:00:00', "
        "9.9, '{}', x'00')"
    )
    conn.execute("INSERT INTO quizzes VALUES ('q1', 'u1', 3)")
    conn.execute("INSERT INTO leads VALUES (1, 'q1', 'u1')")
    if orphans:
        conn.executemany(
            "INSERT INTO leads VALUES (?, ?, ?)",
            [(2, "q-gone", "u1"), (3, "q-gone", "u-gone"), (4, "q1", "u-gone")],
        )
        conn.execute("INSERT INTO quizzes VALUES ('q2', 'u-gone', 1)")
    if mixed:
        conn.execute(
            "INSERT INTO users VALUES ('u2', 'c@d', '2024-05-01T10:00:00Z', "
            "1714557600, 'free', '[]', 'text in blob is fine')"
        )
        conn.execute("INSERT INTO quizzes VALUES ('q3', 'u1', 'many')")
    conn.commit()
    conn.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statuses(path: Path, profile: str = "production-1000") -> dict[str, Status]:
    prof = load_profile(profile).sqlite
    return {c.id: c.status for c in sqlite_checks(read_sqlite_facts(path, prof), prof)}


def test_clean_wal_file_passes(tmp_path: Path) -> None:
    db = make_db(tmp_path / "clean.db", wal=True, orphans=False, mixed=False)
    assert set(statuses(db).values()) == {Status.PASS}


def test_rollback_journal_fails_in_production_and_warns_in_dev(tmp_path: Path) -> None:
    db = make_db(tmp_path / "rollback.db", wal=False, orphans=False, mixed=False)
    assert statuses(db)["sqlite.journal_mode"] is Status.FAIL
    assert statuses(db, "dev")["sqlite.journal_mode"] is Status.WARN


def test_orphans_are_counted_per_table(tmp_path: Path) -> None:
    db = make_db(tmp_path / "orphans.db", wal=True, orphans=True, mixed=False)
    prof = load_profile("production-1000").sqlite
    facts = read_sqlite_facts(db, prof)
    # leads: row 2 (quiz), row 3 (quiz + user), row 4 (user) -> 4 violations; quizzes: 1
    assert facts.orphans == {"leads": 4, "quizzes": 1}
    check = next(c for c in sqlite_checks(facts, prof) if c.id == "sqlite.orphans")
    assert check.status is Status.FAIL
    assert "leads 4" in check.measured


def test_typeof_census_names_disagreeing_columns(tmp_path: Path) -> None:
    db = make_db(tmp_path / "mixed.db", wal=True, orphans=False, mixed=True)
    prof = load_profile("production-1000").sqlite
    facts = read_sqlite_facts(db, prof)
    found = {(d.table, d.column): (d.count, d.kinds) for d in facts.disagreements}
    # DATETIME holding an int is fine (NUMERIC), JSON text is fine, BLOB holds anything
    assert found == {
        ("users", "created_at"): (1, "text"),
        ("users", "price"): (1, "text"),
        ("quizzes", "views"): (1, "text"),
    }
    assert statuses(db)["sqlite.typeof"] is Status.WARN


def test_source_is_never_written(tmp_path: Path) -> None:
    for wal in (True, False):
        db = make_db(tmp_path / f"ro{wal}.db", wal=wal, orphans=True, mixed=True)
        before, mtime = digest(db), db.stat().st_mtime_ns
        statuses(db)
        assert digest(db) == before
        assert db.stat().st_mtime_ns == mtime


def test_big_files_use_quick_check_and_wal_size_is_reported(tmp_path: Path) -> None:
    db = make_db(tmp_path / "big.db", wal=True, orphans=False, mixed=False)
    keep = sqlite3.connect(db)  # an open writer keeps the -wal file in place
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.executemany("INSERT INTO leads VALUES (?, 'q1', 'u1')", [(i,) for i in range(10, 5000)])
    keep.commit()
    try:
        text = load_profile("dev").model_dump()["sqlite"]
        prof = type(load_profile("dev").sqlite).model_validate(
            {**text, "quick_check_above_mb": 0, "wal_warn_mb": 0.01}
        )
        facts = read_sqlite_facts(db, prof)
        assert facts.integrity_mode == "quick_check"
        assert facts.integrity == ["ok"]
        assert facts.wal_bytes > 10_000
        size = next(c for c in sqlite_checks(facts, prof) if c.id == "sqlite.size")
        assert size.status is Status.WARN
    finally:
        keep.close()


def test_corrupt_file_fails_integrity(tmp_path: Path) -> None:
    db = make_db(tmp_path / "corrupt.db", wal=False, orphans=False, mixed=False)
    conn = sqlite3.connect(db)
    conn.executemany("INSERT INTO leads VALUES (?, 'q1', 'u1')", [(i,) for i in range(10, 3000)])
    conn.execute("CREATE INDEX leads_quiz ON leads(quiz_id)")
    conn.commit()
    # make the index disagree with its table: index entries say quiz_id, the schema says user_id
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = 'CREATE INDEX leads_quiz ON leads(user_id)' "
        "WHERE name = 'leads_quiz'"
    )
    conn.commit()
    conn.close()
    status = statuses(db)
    assert status["sqlite.integrity"] is Status.FAIL


def test_missing_or_non_sqlite_source_is_a_source_error(tmp_path: Path) -> None:
    prof = load_profile("dev").sqlite
    with pytest.raises(SourceError):
        read_sqlite_facts(tmp_path / "absent.db", prof)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, not even close" * 100)
    with pytest.raises(SourceError) as info:
        read_sqlite_facts(junk, prof)
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", "INTEGER"),
        ("BIGINT", "INTEGER"),
        ("VARCHAR(20)", "TEXT"),
        ("", "BLOB"),
        ("DOUBLE PRECISION", "REAL"),
        ("DATETIME", "NUMERIC"),
        ("BOOLEAN", "NUMERIC"),
    ],
)
def test_affinity_rules(declared: str, expected: str) -> None:
    assert affinity(declared) == expected
