"""pg.ident / pg.qualified: hostile names round-trip through CREATE TABLE on the real server,
exactly as written, and quote exactly as psycopg does over a live connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from vendzz_migrate import pg

HOSTILE = [
    'quo"te',
    '"',
    '""',
    "it's",
    "with space",
    " lead and trail ",
    "order",
    "select",
    "user",
    "camelCase",
    "UPPER",
    "semi;colon--",
    "dot.ted",
    "ünïcødé",
    "日本語",
    "emoji 🐘",
    "back\\slash",
    "tab\there",
    "new\nline",
    "$1",
    "x" * 63,
]


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_url) as c:
        yield c


def created(conn: psycopg.Connection[Any], schema: str, table: str, column: str) -> tuple[Any, ...]:
    """CREATE SCHEMA + TABLE with the quoted names (rolled back); the names the catalog holds."""
    try:
        conn.execute(f"CREATE SCHEMA {pg.ident(schema)}")
        conn.execute(f"CREATE TABLE {pg.qualified(schema, table)} ({pg.ident(column)} int)")
        conn.execute(f"INSERT INTO {pg.qualified(schema, table)} ({pg.ident(column)}) VALUES (1)")
        row = conn.execute(
            "SELECT n.nspname, c.relname, a.attname FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE a.attnum > 0 AND c.oid = to_regclass(%s)",
            [pg.qualified(schema, table)],
        ).fetchone()
        assert row is not None, (schema, table)
        return tuple(row)
    finally:
        conn.rollback()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_round_trip(conn: psycopg.Connection[Any], name: str) -> None:
    assert created(conn, name, name, name) == (name, name, name)


@pytest.mark.parametrize("name", HOSTILE)
def test_quoting_is_psycopg_s_with_a_connection_too(
    conn: psycopg.Connection[Any], name: str
) -> None:
    assert pg.ident(name) == sql.Identifier(name).as_string(conn)
    assert pg.qualified("a.b", name) == sql.Identifier("a.b", name).as_string(conn)


NAME = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).filter(lambda s: len(s.encode()) <= 63)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=NAME, table=NAME, column=NAME)
def test_any_name_round_trips(
    conn: psycopg.Connection[Any], schema: str, table: str, column: str
) -> None:
    assert created(conn, schema, table, column) == (schema, table, column)
