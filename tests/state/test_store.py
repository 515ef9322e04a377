"""The run state's schema: two first runs at once into a fresh database (issue #11)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import psycopg

from tests.copy.helpers import copy, verified
from vendzz_migrate.state.store import Store


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
