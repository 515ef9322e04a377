"""Step 6, foreign keys: added NOT VALID, then validated in parallel; the keys that orphans make
fail stay NOT VALID with their orphans reported, and a rerun finishes a half-done step."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.copy.helpers import copy, rows, verified
from vendzz_migrate.copy.run import STEPS

# several keys, two on one child (one clean, one with orphans), a composite one whose orphans
# exclude the rows with a NULL in the key (MATCH SIMPLE), one PostgreSQL refuses outright
SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE teams (id INTEGER, region TEXT, PRIMARY KEY (id, region));
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), title TEXT);
CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER REFERENCES posts(id),
                       user_id INTEGER REFERENCES users(id));
CREATE TABLE members (id INTEGER PRIMARY KEY, team_id INTEGER, region TEXT,
                      FOREIGN KEY (team_id, region) REFERENCES teams(id, region));
CREATE TABLE tags (name TEXT);
CREATE TABLE post_tags (id INTEGER PRIMARY KEY, post_id INTEGER REFERENCES posts(id),
                        tag TEXT REFERENCES tags(name));
"""
CLEAN = {("posts", "user_id"), ("comments", "user_id"), ("post_tags", "post_id")}
ORPHANED = {("comments", "post_id"): 3, ("members", "team_id"): 2}
REFUSED = ("post_tags", "tag")  # tags.name is not unique: no foreign key can point at it


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "fk.db"
    lite = sqlite3.connect(path)
    lite.executescript(SCHEMA)
    lite.executemany("INSERT INTO users VALUES (?, ?)", [(i, f"u{i}") for i in range(1, 51)])
    lite.executemany(
        "INSERT INTO teams VALUES (?, ?)", [(i, r) for i in range(1, 6) for r in ("eu", "us")]
    )
    lite.executemany(
        "INSERT INTO posts VALUES (?, ?, ?)",
        [(i, None if i % 10 == 0 else i % 50 + 1, f"p{i}") for i in range(1, 301)],
    )
    lite.executemany(
        "INSERT INTO comments VALUES (?, ?, ?)",
        [(i, 1000 + i if i <= 3 else i % 300 + 1, i % 50 + 1) for i in range(1, 1001)],
    )
    lite.executemany(
        "INSERT INTO members VALUES (?, ?, ?)",
        [
            (1, 1, "eu"),
            (2, 5, "us"),
            (3, 9, "eu"),
            (4, 1, "asia"),
            (5, 9, None),
            (6, None, "eu"),
            (7, 2, "us"),
        ],
    )
    lite.executemany("INSERT INTO tags VALUES (?)", [("a",), ("b",), ("a",)])
    lite.executemany(
        "INSERT INTO post_tags VALUES (?, ?, ?)",
        [(i, i % 300 + 1, "ab"[i % 2]) for i in range(1, 201)],
    )
    lite.commit()
    lite.close()
    return path


def foreign_keys(pg_url: str) -> dict[tuple[str, str], tuple[str, bool]]:
    """(child table, first key column) -> (constraint name, validated)."""
    found = rows(
        pg_url,
        "SELECT c.conrelid::regclass::text, a.attname, c.conname, c.convalidated"
        " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid"
        " AND a.attnum = c.conkey[1] WHERE c.contype = 'f'"
        " AND c.connamespace = 'public'::regnamespace",
    )
    return {(t, col): (name, valid) for t, col, name, valid in found}


def orphan_rows(pg_url: str) -> dict[str, tuple[str, str, int, int]]:
    """constraint -> (table, ref table, orphan rows, sample size), one row per constraint."""
    found = rows(
        pg_url,
        "SELECT constraint_name, table_name, ref_table, orphan_rows,"
        " jsonb_array_length(sample) FROM vendzz_migrate.orphans",
    )
    assert len(found) == len({r[0] for r in found})
    return {c: (t, r, n, s) for c, t, r, n, s in found}


def assert_final_state(pg_url: str) -> None:
    fks = foreign_keys(pg_url)
    assert {key for key, (_name, valid) in fks.items() if valid} == CLEAN
    assert {key for key, (_name, valid) in fks.items() if not valid} == set(ORPHANED)
    assert REFUSED not in fks
    recorded = orphan_rows(pg_url)
    assert {(t, n) for t, _r, n, _s in recorded.values()} == {
        (table, count) for (table, _col), count in ORPHANED.items()
    }
    for (table, col), count in ORPHANED.items():
        name = fks[(table, col)][0]
        assert recorded[name][2:] == (count, min(count, 5))


def crashed_in_step_6(pg_url: str) -> None:
    """The run's state as a crash during step 6 leaves it: steps 6 and 7 not done."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM vendzz_migrate.steps WHERE step = ANY(%s)", ([STEPS[5], STEPS[6]],)
        )
        conn.execute("UPDATE vendzz_migrate.runs SET status = 'running'")


def test_clean_keys_are_valid_orphaned_ones_not_valid_with_report(
    source: Path, pg_url: str, tmp_path: Path
) -> None:
    report = copy(source, pg_url, tmp_path, workers=3)
    assert report.total.rejected_rows == 0
    assert_final_state(pg_url)
    fks = foreign_keys(pg_url)
    by_constraint = {o.constraint: o for o in report.orphans}
    assert set(by_constraint) == {fks[key][0] for key in ORPHANED}
    comments = by_constraint[fks[("comments", "post_id")][0]]
    assert (comments.table, comments.ref_table, comments.orphan_rows) == ("comments", "posts", 3)
    assert sorted(s["post_id"] for s in comments.sample) == [1001, 1002, 1003]
    members = by_constraint[fks[("members", "team_id")][0]]
    assert sorted((s["team_id"], s["region"]) for s in members.sample) == [
        (1, "asia"),
        (9, "eu"),
    ]  # (9, NULL) and (NULL, 'eu') are no orphans
    refused = [n.message for n in report.notes if n.object.startswith("post_tags_fk")]
    assert len(refused) == 1 and refused[0].startswith("not created: ")
    assert "unique constraint" in refused[0]
    # verify cannot vouch for a schema missing a source foreign key: exit 9, with the reason
    verified(source, pg_url, absent=frozenset({"post_tags_fk"}))


def not_valid_again(conn: psycopg.Connection, pg_url: str, table: str, name: str) -> None:
    """Put a validated key back to NOT VALID, as if added but not yet validated."""
    ddl = rows(
        pg_url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (name,)
    )[0][0]
    conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'.encode())
    conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl} NOT VALID'.encode())


def test_rerun_over_a_half_done_step_finishes_it(source: Path, pg_url: str, tmp_path: Path) -> None:
    copy(source, pg_url, tmp_path, workers=2, keep_snapshot=True)  # as a crash in step 6 would
    fks = foreign_keys(pg_url)
    posts_user, _ = fks[("posts", "user_id")]
    comments_user, _ = fks[("comments", "user_id")]
    comments_post, _ = fks[("comments", "post_id")]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # added NOT VALID, crash before its VALIDATE
        not_valid_again(conn, pg_url, "posts", posts_user)
        # crash before it was even added
        conn.execute(f'ALTER TABLE comments DROP CONSTRAINT "{comments_user}"')
        # its VALIDATE failed on orphans, crash before they were recorded
        conn.execute(
            "DELETE FROM vendzz_migrate.orphans WHERE constraint_name = %s", (comments_post,)
        )
    crashed_in_step_6(pg_url)
    assert not foreign_keys(pg_url)[("posts", "user_id")][1]

    report = copy(source, pg_url, tmp_path, workers=2, resume=True)
    assert report.resumed
    assert_final_state(pg_url)  # the members key, done before the crash, was left as it was
    assert {o.constraint for o in report.orphans} == {fks[key][0] for key in ORPHANED}
    verified(source, pg_url, absent=frozenset({"post_tags_fk"}))


def test_a_key_validate_refuses_for_another_reason_is_dropped_with_a_note(
    pg_url: str, tmp_path: Path
) -> None:
    """As when a key was added and validated at once: absent and noted, never left NOT VALID
    without orphans to explain it."""
    src = tmp_path / "big.db"
    lite = sqlite3.connect(src)
    lite.executescript(
        "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
        "CREATE TABLE children (id INTEGER PRIMARY KEY,"
        " parent_id INTEGER REFERENCES parents(id));"
    )
    lite.executemany("INSERT INTO parents VALUES (?)", [(i,) for i in range(30_000)])
    lite.executemany("INSERT INTO children VALUES (?, ?)", [(i, i) for i in range(30_000)])
    lite.commit()
    lite.close()
    copy(src, pg_url, tmp_path, keep_snapshot=True)  # as a crash in step 6 would keep it
    ((name, valid),) = foreign_keys(pg_url).values()
    assert valid
    (database,) = rows(pg_url, "SELECT current_database()")[0]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        not_valid_again(conn, pg_url, "children", name)
        # the check's join needs more than maintenance_work_mem, and no temporary file is let
        conn.execute(f"ALTER DATABASE \"{database}\" SET maintenance_work_mem = '1MB'")
        conn.execute(f'ALTER DATABASE "{database}" SET temp_file_limit = 0')
    crashed_in_step_6(pg_url)
    try:
        report = copy(src, pg_url, tmp_path, resume=True)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" RESET ALL')
    assert foreign_keys(pg_url) == {}
    assert not report.orphans
    notes = [n.message for n in report.notes if n.object == name]
    assert notes == ["not created: temporary file size exceeds temp_file_limit (0kB)"]
    verified(src, pg_url, absent=frozenset({name}))
