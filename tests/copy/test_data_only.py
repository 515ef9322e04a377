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
        " settings TEXT, legacy TEXT);"
        "INSERT INTO users VALUES ('a', 1700000000, 1, '\"{\\\"x\\\": 1}\"', 'old'),"
        " ('b', 1700000000123, 0, '[]', NULL), ('c', 'not a time', 0, '{}', NULL);"
    )
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:  # as drizzle-kit would have made it
        pg.execute(
            'CREATE TABLE users (id text PRIMARY KEY, "createdAt" timestamptz NOT NULL,'
            " \"isBlocked\" boolean, settings jsonb, extra text DEFAULT 'x')"
        )
    report = copy(src, pg_url, tmp_path, data_only=True)
    assert report.total.copied_rows == 2 and report.total.rejected_rows == 1
    got = rows(
        pg_url, 'SELECT id, "createdAt", "isBlocked", settings, extra FROM users ORDER BY id'
    )
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


def test_parents_load_before_children(pg_url: str, tmp_path: Path) -> None:
    """Into a schema whose foreign keys are enforced, no valid child row may be refused
    because its parent table had not been loaded yet."""
    src = tmp_path / "fk.db"
    conn = sqlite3.connect(src)
    conn.executescript(
        "CREATE TABLE zz_users (id TEXT PRIMARY KEY);"
        "CREATE TABLE aa_orders (id TEXT PRIMARY KEY, user_id TEXT REFERENCES zz_users(id));"
        "CREATE TABLE mm_items (id TEXT PRIMARY KEY, order_id TEXT REFERENCES aa_orders(id));"
    )
    conn.executemany("INSERT INTO zz_users VALUES (?)", [(f"u{i}",) for i in range(300)])
    conn.executemany(
        "INSERT INTO aa_orders VALUES (?, ?)", [(f"o{i}", f"u{i % 300}") for i in range(600)]
    )
    conn.executemany(
        "INSERT INTO mm_items VALUES (?, ?)", [(f"i{i}", f"o{i % 600}") for i in range(900)]
    )
    conn.commit()
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE zz_users (id text PRIMARY KEY);"
            "CREATE TABLE aa_orders (id text PRIMARY KEY,"
            " user_id text REFERENCES zz_users(id));"
            "CREATE TABLE mm_items (id text PRIMARY KEY,"
            " order_id text REFERENCES aa_orders(id))"
        )
    report = copy(src, pg_url, tmp_path, data_only=True, workers=2, batch_rows=50)
    assert report.total.rejected_rows == 0
    assert report.total.copied_rows == 1800


def test_orphans_into_enforced_foreign_keys_are_quarantined(pg_url: str, tmp_path: Path) -> None:
    """An orphan costs its own row (PostgreSQL reports the violation after the COPY, with no
    line: the row is found by the missing key value); every other row is copied."""
    src = tmp_path / "orphans.db"
    conn = sqlite3.connect(src)
    conn.executescript(
        "CREATE TABLE zz_users (id TEXT PRIMARY KEY);"
        'CREATE TABLE aa_orders (id TEXT PRIMARY KEY, "userId" TEXT REFERENCES zz_users(id));'
    )
    conn.executemany("INSERT INTO zz_users VALUES (?)", [(f"u{i}",) for i in range(50)])
    orders = [(f"o{i:03}", f"u{i % 50}") for i in range(300)]
    orders[17] = ("o017", "ghost, (a)")  # PostgreSQL's detail quotes nothing: a hard value
    orders[230] = ("o230", "ghost)=(2")
    orders[231] = ("o231", "ghost)=(2")
    conn.executemany("INSERT INTO aa_orders VALUES (?, ?)", orders)
    conn.commit()
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE zz_users (id text PRIMARY KEY);"
            "CREATE TABLE aa_orders (id text PRIMARY KEY,"
            ' "userId" text REFERENCES zz_users(id))'
        )
    report = copy(src, pg_url, tmp_path, data_only=True, workers=2, batch_rows=100)
    assert (report.total.copied_rows, report.total.rejected_rows) == (50 + 297, 3)
    rejected = rows(
        pg_url,
        "SELECT source_key->>'id', column_name, reason FROM vendzz_migrate.rejects ORDER BY 1",
    )
    assert [r[:2] for r in rejected] == [("o017", "userId"), ("o230", "userId"), ("o231", "userId")]
    assert all("foreign key" in r[2] for r in rejected)
    assert rows(pg_url, "SELECT count(*) FROM aa_orders")[0][0] == 297


def test_a_self_reference_to_a_later_row_is_no_orphan(pg_url: str, tmp_path: Path) -> None:
    """A row whose parent is in the same table, in a unit still to come, is not quarantined:
    the run stops with a clear error (exit 11) and rejects nothing."""
    from vendzz_migrate.copy.run import CopyOptions, run
    from vendzz_migrate.errors import ExitCode, TargetError

    src = tmp_path / "self.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE lessons (id TEXT PRIMARY KEY, next_id TEXT REFERENCES lessons(id))")
    conn.executemany(
        "INSERT INTO lessons VALUES (?, ?)",
        [(f"l{i:03}", f"l{i + 1:03}" if i < 199 else None) for i in range(200)],
    )
    conn.commit()
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE lessons (id text PRIMARY KEY, next_id text REFERENCES lessons(id))"
        )
    with pytest.raises(TargetError) as err:
        run(
            CopyOptions(
                source=src,
                target_url=pg_url,
                work_dir=tmp_path,
                data_only=True,
                workers=1,
                batch_rows=50,
            )
        )
    assert err.value.exit_code is ExitCode.TARGET
    assert rows(pg_url, "SELECT count(*) FROM vendzz_migrate.rejects")[0][0] == 0


def test_a_self_referencing_table_loads_unit_after_unit(pg_url: str, tmp_path: Path) -> None:
    """Rows whose parent is an earlier row of the same table, over many units and two
    workers: the units of that table go one after another in key order, so every parent is
    committed before its children (in parallel, a child's unit could commit first: a race)."""
    src = tmp_path / "replies.db"
    conn = sqlite3.connect(src)
    conn.execute(
        "CREATE TABLE forum_replies (id INTEGER PRIMARY KEY,"
        " parent_reply_id INTEGER REFERENCES forum_replies(id), body TEXT)"
    )
    conn.execute("CREATE TABLE forum_likes (id INTEGER PRIMARY KEY, n INTEGER)")
    conn.executemany(
        "INSERT INTO forum_replies VALUES (?, ?, ?)",
        [(i, None if i < 40 else i - 1 - i % 37, f"r{i}") for i in range(1, 3001)],
    )
    conn.executemany("INSERT INTO forum_likes VALUES (?, ?)", [(i, i) for i in range(500)])
    conn.commit()
    conn.close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE forum_replies (id bigint PRIMARY KEY,"
            " parent_reply_id bigint REFERENCES forum_replies(id), body text)"
        )
        pg.execute("CREATE TABLE forum_likes (id bigint PRIMARY KEY, n bigint)")
    report = copy(src, pg_url, tmp_path, data_only=True, workers=2, batch_rows=100)
    assert (report.total.copied_rows, report.total.rejected_rows) == (3500, 0)
    assert rows(pg_url, "SELECT count(*) FROM forum_replies")[0][0] == 3000
