"""Typed records through the state schema: a note's replacement comes back as it was written,
and a state schema made before notes had a replacement column is upgraded by ensure() and read
without one meanwhile."""

from __future__ import annotations

import psycopg

from vendzz_migrate.state.records import Replaced, Replacement
from vendzz_migrate.state.store import Store

OLD_NOTES = """CREATE TABLE vendzz_migrate.notes (
    run_id text NOT NULL REFERENCES vendzz_migrate.runs ON DELETE CASCADE,
    object text NOT NULL, message text NOT NULL)"""


def _run(store: Store) -> str:
    return store.create_run(
        target_schema="public",
        fingerprint="f",
        source="s.db",
        snapshot="snap",
        options={},
        mapping={"tables": {}},
    )


def test_a_replacement_comes_back_with_its_note(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        store = Store(conn)
        store.ensure()
        run = _run(store)
        gin = Replacement(Replaced.GIN_INDEX, "docs_meta", "docs", "docs_meta")
        store.add_note(run, "docs_meta", "btree over JSON replaced by a GIN index", gin)
        store.add_note(run, "docs.body", "a note for humans only")
        (found,) = store.replacements(run)
        assert found.replacement == gin
        assert (found.object, found.message) == (
            "docs_meta",
            "btree over JSON replaced by a GIN index",
        )
        assert [n.object for n in store.notes(run)] == ["docs_meta", "docs.body"]


def test_a_state_schema_without_the_column_is_read_then_upgraded(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        store = Store(conn)
        store.ensure()
        conn.execute("DROP TABLE vendzz_migrate.notes")
        conn.execute(OLD_NOTES)
        run = _run(store)
        conn.execute(
            "INSERT INTO vendzz_migrate.notes VALUES (%s, 'x', 'skipped: GIN index')", (run,)
        )
        assert store.replacements(run) == []  # an old run's notes record no replacement
        store.ensure()
        store.add_note(run, "t", "trigger", Replacement(Replaced.TRIGGER, "t", "docs"))
        assert [d.replacement.kind for d in store.replacements(run)] == [Replaced.TRIGGER]
