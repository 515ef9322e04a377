"""The declared type is the contract (schema infer), checked on files made here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vendzz_migrate.source import open_readonly
from vendzz_migrate.source.introspect import introspect
from vendzz_migrate.typemap.infer import infer
from vendzz_migrate.typemap.mapping import Mapping, NullKey

DDL = """
CREATE TABLE parent (code TEXT PRIMARY KEY, label TEXT);
CREATE TABLE parent2 (id INTEGER PRIMARY KEY);
CREATE TABLE t (
  id INTEGER PRIMARY KEY,
  born DATE, seen DATE, at DATETIME, ts TIMESTAMP, flag BOOLEAN, ok BOOL,
  price DECIMAL(4,2), amount NUMERIC(10, 3), plain DECIMAL, pic BLOB, doc JSON,
  created_at INTEGER, updated_at INTEGER, created_by_id INTEGER, expires INTEGER,
  parent_code INTEGER REFERENCES parent(code), mostly_json TEXT,
  parent2_ref TEXT REFERENCES parent2(id)
);
CREATE TABLE empty_one (id INTEGER PRIMARY KEY, d date, b boolean, n decimal(5,1), j json,
  x blob, created_at INTEGER, is_active INTEGER);
CREATE TABLE nullable_key (id TEXT PRIMARY KEY, name TEXT);
"""


@pytest.fixture(scope="module")
def mapping(tmp_path_factory: pytest.TempPathFactory) -> Mapping:
    path: Path = tmp_path_factory.mktemp("declared") / "d.db"
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    conn.execute("INSERT INTO parent VALUES ('a1', 'A')")
    conn.execute("INSERT INTO parent2 VALUES (1)")
    for i in range(10):
        conn.execute(
            "INSERT INTO t VALUES (?, '2024-01-02', '2024-01-02 10:00:00', 'soon', 1700000000,"
            " 7, 'yes', 1.25, 3, 'x', 'text', '{\"a\": 1}', 1700000000 + ?, NULL, 1,"
            " 3, 'a1', ?, '1')",
            (i, i, '{"k": 1}' if i else "Test Simple"),
        )
    conn.execute("INSERT INTO nullable_key VALUES (NULL, 'no id'), ('k', 'ok')")
    conn.commit()
    conn.close()
    reader = open_readonly(path)
    try:
        return infer(reader, introspect(reader))
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("column", "pg_type"),
    [
        ("born", "date"),
        ("seen", "timestamptz"),
        ("at", "timestamptz"),
        ("ts", "timestamptz"),
        ("flag", "boolean"),
        ("ok", "boolean"),
        ("price", "numeric(4,2)"),
        ("amount", "numeric(10,3)"),
        ("plain", "numeric"),
        ("pic", "bytea"),
        ("doc", "jsonb"),
        ("created_at", "timestamptz"),  # INTEGER with epoch values: evidence
        ("updated_at", "bigint"),  # INTEGER, all NULL: no evidence
        ("created_by_id", "bigint"),  # named like a key
        ("expires", "bigint"),  # time-named, but 3 is no epoch
        ("parent_code", "text"),  # takes the referenced key's type
        ("mostly_json", "jsonb"),
        ("parent2_ref", "bigint"),  # TEXT holding '1': the type of parent2.id
    ],
)
def test_declared_type_keeps_its_family(mapping: Mapping, column: str, pg_type: str) -> None:
    col = mapping.tables["t"].columns[column]
    assert col.type == pg_type, col.note


def test_values_that_do_not_fit_are_counted_not_retyped(mapping: Mapping) -> None:
    cols = mapping.tables["t"].columns
    assert "will be rejected" in (cols["flag"].note or "")  # 7 is no boolean: quarantined
    assert "will be rejected" in (cols["at"].note or "")  # 'soon' is no timestamp
    assert "foreign key: the type of parent2.id" in (cols["parent2_ref"].note or "")
    assert "never a timestamp" in (cols["created_by_id"].note or "")


def test_text_that_is_not_json_is_wrapped(mapping: Mapping) -> None:
    col = mapping.tables["t"].columns["mostly_json"]
    assert col.on_error == "wrap" and "1 text value(s) that are not JSON" in (col.note or "")


@pytest.mark.parametrize(
    ("column", "pg_type"),
    [
        ("d", "date"),
        ("b", "boolean"),
        ("n", "numeric(5,1)"),
        ("j", "jsonb"),
        ("x", "bytea"),
        ("created_at", "bigint"),
        ("is_active", "boolean"),
    ],
)
def test_an_empty_table_keeps_declared_types(mapping: Mapping, column: str, pg_type: str) -> None:
    assert mapping.tables["empty_one"].columns[column].type == pg_type


def test_a_key_holding_nulls_becomes_unique(mapping: Mapping) -> None:
    table = mapping.tables["nullable_key"]
    assert table.primary_key == [] and table.null_key is NullKey.UNIQUE
    assert not table.columns["id"].not_null
    assert "1 NULL(s)" in (table.note or "")
    assert mapping.tables["parent"].primary_key == ["code"]
