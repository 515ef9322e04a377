"""--data-only: load into tables the application already created (e.g. drizzle-kit)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.copy.helpers import copy, rows


def test_values_take_the_existing_column_types(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.executescript(
        'CREATE TABLE users (id TEXT PRIMARY KEY, "createdAt" INTEGER, "isBlocked" INTEGER,'
        ' settings TEXT, legacy TEXT);'
        "INSERT INTO users VALUES ('a', 1700000000, 1, '\"{\\\"x\\\": 1}\"', 'old'),"
        " ('b', 1700000000123, 0, '[]', NULL), ('c', 'not a time', 0, '{}', NULL);")
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:  # as drizzle-kit would have made it
        pg.execute('CREATE TABLE users (id text PRIMARY KEY, "createdAt" timestamptz NOT NULL,'
                   ' "isBlocked" boolean, settings jsonb, extra text DEFAULT \'x\')')
    report = copy(src, pg_url, tmp_path, data_only=True)
    assert report.total.copied_rows == 2 and report.total.rejected_rows == 1
    got = rows(pg_url, 'SELECT id, "createdAt", "isBlocked", settings, extra FROM users'
                       " ORDER BY id")
    assert got == [
        ("a", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), True, {"x": 1}, "x"),
        ("b", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), False, [], "x"),
    ]
    notes = {(n.object, n.message.split(":")[0]) for n in report.notes}
    assert ("users.legacy", "column missing in the target") in notes
    assert ("users.extra", "column only in the target") in notes


def test_missing_target_table_is_refused(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE quizzes (id TEXT PRIMARY KEY)")
    conn.close()
    from vendzz_migrate.copy.run import CopyOptions, run
    from vendzz_migrate.errors import StateError

    with pytest.raises(StateError, match="quizzes"):
        run(CopyOptions(source=src, target_url=pg_url, work_dir=tmp_path, data_only=True))
