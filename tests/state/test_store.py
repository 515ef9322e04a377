"""The run state's schema: two first runs at once into a fresh database (issue #11)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import psycopg

from tests.copy.helpers import copy, verified
from vendzz_migrate.state.store import LargeValue, RejectRow, Store


def waiting(pg_url: str, application: str) -> bool:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND wait_event_type = 'Lock'",
            (application,),
        ).fetchone()
        return bool(row and row[0])


def test_two_first_runs_create_the_state_schema_once(pg_url: str) -> None:
    """The race made deterministic: the first creator holds its transaction open until the
    second is seen waiting, then commits. Without a lock the second fails on pg_namespace's
    unique index; with it, it finds everything there."""
    first = psycopg.connect(pg_url)
    second = psycopg.connect(pg_url, application_name="vzt-second-ensure")
    failure: list[BaseException] = []

    def ensure_second() -> None:
        try:
            with second.transaction():
                Store(second).ensure()
        except BaseException as exc:  # reported by the assertion below
            failure.append(exc)

    try:
        thread = threading.Thread(target=ensure_second)
        with first.transaction():  # commits when the second is seen waiting
            Store(first).ensure()
            thread.start()
            deadline = time.monotonic() + 60
            while not waiting(pg_url, "vzt-second-ensure") and time.monotonic() < deadline:
                time.sleep(0.02)  # polling a condition in PostgreSQL, bounded by the deadline
            assert thread.is_alive(), f"the second did not wait: {failure}"
        thread.join(60)
        assert not thread.is_alive()
        assert not failure, failure[0]
        assert Store(second).exists()
    finally:
        first.close()
        second.close()


def test_concurrent_first_runs_into_two_schemas_both_succeed(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(2000)])
    conn.commit()
    conn.close()
    errors: list[BaseException] = []

    def run(schema: str) -> None:
        try:
            copy(src, pg_url, tmp_path / schema, schema_name=schema, workers=1)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    verified(src, pg_url, schema="one")
    verified(src, pg_url, schema="two")


def test_rejects_holding_large_values_keep_their_order_and_pieces(pg_url: str) -> None:
    """Store.add_rejects: rejects recorded in the order given (ids ascending), one holding
    large values with its pieces (an empty value: none) and references; the references name
    the state schema as SQL would (quoted when it must be); forgetting the run drops all."""
    rejects = [
        RejectRow("t", {"id": 1}, "a", {"type": "text", "value": "x"}, {"a": {}}, "first"),
        RejectRow(
            "t",
            {"id": 2},
            "a",
            {"type": "text"},
            {"a": {"type": "text"}, "b": {"type": "blob"}, "c": {"type": "null"}},
            "second",
            (
                LargeValue("a", "text", lambda: iter([b"ab\x00", b"", b"\xffc"])),
                LargeValue("b", "blob", lambda: iter([]), None),
            ),
        ),
        RejectRow("t", {"id": 3}, None, None, {"a": {}}, "third"),
    ]
    with psycopg.connect(pg_url) as conn:
        store = Store(conn, "My State")
        store.ensure()
        with conn.transaction():
            run_id = store.create_run(
                target_schema="public",
                fingerprint="f",
                source="s",
                snapshot="n",
                options={},
                mapping={},
            )
            store.add_rejects(run_id, rejects)
        got = conn.execute(
            'SELECT id, reason, raw_value, raw_row FROM "My State".rejects ORDER BY id'
        ).fetchall()
        assert [g[1] for g in got] == ["first", "second", "third"]
        name = '"My State".reject_pieces'
        a = {"bytes": 5, "md5": hashlib.md5(b"ab\x00\xffc").hexdigest(), "pieces": name}
        b = {"bytes": 0, "md5": hashlib.md5(b"").hexdigest(), "pieces": name}
        assert got[1][2] == {"type": "text", "large": a}
        assert got[1][3] == {
            "a": {"type": "text", "large": a},
            "b": {"type": "blob", "large": b},
            "c": {"type": "null"},
        }
        pieces = conn.execute(
            'SELECT reject_id, column_name, seq, piece FROM "My State".reject_pieces'
            " ORDER BY column_name, seq"
        ).fetchall()
        assert [(p[0], p[1], p[2], bytes(p[3])) for p in pieces] == [
            (got[1][0], "a", 0, b"ab\x00"),
            (got[1][0], "a", 1, b""),
            (got[1][0], "a", 2, b"\xffc"),
        ]
        with conn.transaction():
            store.forget_runs("public")
        left = conn.execute('SELECT count(*) FROM "My State".reject_pieces').fetchone()
        assert left == (0,)
