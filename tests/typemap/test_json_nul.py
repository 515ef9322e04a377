"""JSON holding the escape \\u0000: jsonb cannot store it, so under the spec's jsonb the row is
quarantined with that reason (never altered); ``type: json`` in the mapping keeps the document
verbatim, and verify then compares its text byte for byte."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify.helpers import copy, execute, verify
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source.snapshot import open_readonly
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.conversions.jsonb import NUL_REASON
from vendzz_migrate.typemap.convert import Kind, Reject, finish_line, line_sql, make
from vendzz_migrate.typemap.reverse import back
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify.model import DiffKind, Status

NUL_DOC = '{"name":"a\\u0000b","tags":["x"]}'  # the six characters \u0000, as JSON text holds
ESCAPED = '{"path":"C:\\\\u0000"}'  # a backslash, then u0000: no NUL at all


def test_jsonb_rejects_the_nul_escape_with_its_reason() -> None:
    conv = make(Kind.JSON, "jsonb")
    with pytest.raises(Reject, match="jsonb cannot store"):
        conv.convert(Raw.of(NUL_DOC))
    with pytest.raises(Reject, match="jsonb cannot store"):
        conv.convert(Raw.of(json.dumps(NUL_DOC)))  # double-encoded, unwrapped first
    assert conv.convert(Raw.of(ESCAPED)) == ESCAPED


def test_json_keeps_the_document_verbatim() -> None:
    conv = make(Kind.JSON, "json")
    raw = Raw.of(NUL_DOC.replace(",", ", "))
    assert conv.convert(raw) == NUL_DOC.replace(",", ", ")
    assert conv.source_canon()(raw) == NUL_DOC.replace(",", ", ")  # the text itself
    assert conv.pg_canon_sql('"c"') == '"c"::text'
    assert conv.fast_canon() is None


def test_the_fast_path_leaves_the_nul_escape_to_python() -> None:
    lite = sqlite3.connect(":memory:")
    lite.text_factory = bytes
    lite.execute("CREATE TABLE t (j TEXT)")
    lite.executemany("INSERT INTO t VALUES (?)", [(NUL_DOC,), ('{"a":1}',), (ESCAPED,)])
    line, nulls = line_sql([("j", make(Kind.JSON, "jsonb"))])
    lines = [
        finish_line(row[0], 1, row[1]) for row in lite.execute(f"SELECT {line}, {nulls} FROM t")
    ]
    # the \\u0000 escape (and a backslash before u0000, to be safe) go to Python
    assert [x is not None for x in lines] == [False, True, False]


@pytest.fixture(scope="module")
def pg(pg_server_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        yield conn


NUL_TEXT = st.text(st.characters(codec="utf-8"), max_size=6).map(lambda t: t + "\x00")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.dictionaries(st.text(max_size=4).filter(str.isprintable), NUL_TEXT, min_size=1))
def test_json_round_trip_through_postgresql(pg: psycopg.Connection[Any], doc: Any) -> None:
    """SQLite -> PostgreSQL json -> SQLite: the same text, the same canonical value."""
    conv = make(Kind.JSON, "json")
    raw = Raw.of(json.dumps(doc, separators=(",", ":")))
    row = pg.execute("SELECT %s::json::text", (conv.convert(raw),)).fetchone()
    assert row is not None
    assert conv.pg_canon(row[0]) == conv.source_canon()(raw)
    assert back(conv, row[0], None, conv.default_encoding()) == raw
    assert back(conv, row[0], raw, conv.default_encoding()) is raw


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "nul.db"
    lite = sqlite3.connect(path)
    lite.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body JSON)")
    rows = [(1, '{"ok":true}'), (2, NUL_DOC), (3, ESCAPED), (4, '["\\u0000"]')]
    lite.executemany("INSERT INTO docs VALUES (?, ?)", rows)
    lite.commit()
    lite.close()
    return path


def test_jsonb_quarantines_the_row_with_the_reason(
    source: Path, pg_url: str, tmp_path: Path
) -> None:
    report = copy(source, pg_url, tmp_path / "work")
    assert report.total.rejected_rows == 2
    rejects = execute(pg_url, "SELECT source_key, reason FROM vendzz_migrate.rejects ORDER BY 1")
    assert [(key["id"], reason) for key, reason in rejects] == [(2, NUL_REASON), (4, NUL_REASON)]
    checked = verify(source, pg_url, mode="full")
    assert checked.ok and checked.total.quarantined == 2 and checked.total.missing == 0


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_type_json_keeps_every_row_and_verify_compares_the_text(
    source: Path, pg_url: str, tmp_path: Path, mode: str
) -> None:
    conn = open_readonly(source)
    conn.text_factory = bytes
    mapping = inferrer.infer(conn, insp.introspect(conn), source=str(source))
    conn.close()
    mapping.tables["docs"].columns["body"] = maps.ColumnMap(type="json", convert=Kind.JSON)
    path = tmp_path / "mapping.yaml"
    path.write_text(maps.dump_yaml(mapping), encoding="utf-8")
    report = copy(source, pg_url, tmp_path / "work", mapping_path=path)
    assert report.total.rejected_rows == 0
    stored = execute(pg_url, "SELECT body::text FROM docs WHERE id = 2")
    assert stored == [(NUL_DOC,)]
    checked = verify(source, pg_url, mode=mode, mapping_path=path)
    assert checked.ok, checked.summary()
    assert [c.status for c in checked.schema_checks if c.object == "docs.*"] == [Status.OK]
    # the same document in other words (jsonb would call it equal): json's text differs
    execute(pg_url, "UPDATE docs SET body = %s WHERE id = 2", (NUL_DOC.replace(":", ": "),))
    changed = verify(source, pg_url, mode=mode, mapping_path=path)
    assert not changed.ok
    if mode == "full":
        (diff,) = changed.tables[0].differences
        assert (diff.kind, diff.key, diff.columns) == (DiffKind.CHANGED, {"id": 2}, ["body"])
