"""Values too large to load (issue #11, finding 8): the profile never loads a value over
``pieces.LARGE_BYTES``; it sets its row apart and classes the value from its bytes in pieces.
The profile must stay exactly the plain reference's (``oracle_profile``, SQLite's own tests
over whole values) for every kind of large value, in every table layout; and a 100 MB value
must not take ``schema infer`` past its own size in memory."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.copy.test_large_values import big_source, peak_rss_mb
from tests.typemap.test_profile import oracle_profile
from vendzz_migrate.sample import generate
from vendzz_migrate.source import pieces
from vendzz_migrate.source.introspect import Table, introspect
from vendzz_migrate.typemap import bigvalue, profile

LIMIT = 20_000  # over the file's page size (4096): every large value overflows its page
BIG = 25_000


def _doc() -> dict[str, Any]:
    return {"a": list(range(BIG // 6)), "s": 'é😀\t"\\'}


def _large_texts() -> list[str | bytes]:
    """One of each kind of large text the class tests tell apart (bytes: not UTF-8)."""
    s = "x" * BIG
    return [
        "lorem é 😀 ipsum " * (BIG // 10),
        "abc\x00" + "é" * BIG,  # NUL: length() stops before it
        "\x00" + s,
        json.dumps(_doc()),
        json.dumps(list(range(BIG // 4))),
        "[1,\x0b" + ",".join(["2"] * BIG) + "]",  # white space to yajl, not to SQLite
        "{" + s,
        "[" + s + "]",
        "[" * 2000 + json.dumps(s) + "]" * 2000,  # as deep as SQLite's json_valid() goes
        "[" * 2001 + json.dumps(s) + "]" * 2001,  # one deeper: not valid to SQLite
        json.dumps(json.dumps(_doc())),  # double encoded
        json.dumps(json.dumps(json.dumps(_doc()))),  # triple
        json.dumps(json.dumps(s)),  # a string holding a JSON string
        json.dumps('é😀\\"/\b\f\n\r\t' * (BIG // 10)),  # a plain JSON string
        json.dumps(" " * BIG + "12"),  # a string holding a JSON number
        json.dumps("😀" * BIG, ensure_ascii=True),  # surrogate pairs across every cut
        json.dumps(json.dumps({"k": "😀" * BIG}, ensure_ascii=True), ensure_ascii=True),
        json.dumps(json.dumps({"k": "é😀" * BIG}, ensure_ascii=False), ensure_ascii=True),
        json.dumps(s) + " \n\t\r",
        json.dumps(s) + " " * (3 * BIG),  # white space after it for many pieces
        json.dumps(s) + " x",  # something after the string
        json.dumps(s) + '"',
        '"' + s,  # never closed
        '"' + s + "\x01" + '"',  # a control character
        '"' + s + "\\q" + '"',  # a bad escape
        '"' + "\\\\" * BIG + '"',  # escaped backslashes only
        '"' + s + '\\"',
        '"\\u00e9' + "\\u12" + s + '"',  # a short \u escape
        "2024-01-01" + " " * BIG,  # a date, then white space
        "2024-01-01T10:00:00Z" + s,
        "1" * BIG,  # digits only
        b"a" + b"\x80\x81" * BIG + "é".encode(),  # continuation bytes no lead byte claims
        b"\xc3" + b"\x80" * BIG,  # one lead byte, many continuation bytes
        b"\xe2\x82" + b"x" * BIG,  # a cut character
    ]


SMALL = [None, 0, 1, 7, -3, 1.5, 2.25, 1_700_000_000, "", "x", "12", '{"a": 1}', b"\x00b"]
COLUMNS = "t TEXT, j JSON, i INTEGER, r REAL, n NUMERIC, b BLOB, created_at TEXT"


def _rows() -> list[tuple[list[Any], str]]:
    """Rows of 7 values, with their placeholders (CAST(? AS TEXT): text not UTF-8, stored as
    a writer that did not check it would store it)."""
    plain = ", ".join("?" * 7)
    rows: list[tuple[list[Any], str]] = []
    for i, value in enumerate(_large_texts()):
        rows.append(([SMALL[(i + k) % len(SMALL)] for k in range(7)], plain))
        cast = ", ".join(["CAST(? AS TEXT)"] * 7) if isinstance(value, bytes) else plain
        rows.append(([value] * 7, cast))  # the large value in every column, every affinity
    rows.append(([os.urandom(BIG)] * 7, plain))  # a large blob everywhere (min() loads one)
    rows.extend(([SMALL[(i * 3 + k) % len(SMALL)] for k in range(7)], plain) for i in range(9))
    return rows


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "large.db"
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE dense ({COLUMNS});
        CREATE TABLE sparse ({COLUMNS});
        CREATE TABLE keyed (k TEXT PRIMARY KEY, {COLUMNS}) WITHOUT ROWID;
        CREATE TABLE keyed2 (k1 INTEGER, k2 BLOB, {COLUMNS}, PRIMARY KEY (k1, k2)) WITHOUT ROWID;
        CREATE TABLE shadow (rowid TEXT, oid TEXT, _rowid_ TEXT, {COLUMNS});
    """)
    names = ", ".join(c.split()[0] for c in COLUMNS.split(", "))
    for i, (values, marks) in enumerate(_rows()):
        conn.execute(f"INSERT INTO dense VALUES ({marks})", values)
        conn.execute(
            f"INSERT INTO sparse (rowid, {names}) VALUES (?, {marks})", [i * 10**15, *values]
        )
        conn.execute(f"INSERT INTO keyed VALUES (?, {marks})", [f"k{i:03}", *values])
        conn.execute(
            f"INSERT INTO keyed2 VALUES (?, ?, {marks})", [i % 3, f"b{i}".encode(), *values]
        )
        conn.execute(f"INSERT INTO shadow VALUES ('a', 'b', 'c', {marks})", values)
    conn.commit()
    conn.close()
    return path


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.text_factory = bytes  # as the copy and schema infer read (text may not be UTF-8)
    return conn


def _tables(conn: sqlite3.Connection) -> dict[str, Table]:
    return {t.name: t for t in introspect(conn).tables}


def _reference(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    conn = _open(path)  # SQLite's default limit: every value loaded whole
    try:
        return {
            name: {c.name: asdict(oracle_profile(conn, t, c)) for c in t.stored_columns}
            for name, t in _tables(conn).items()
        }
    finally:
        conn.close()


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The limit lowered; the large values met, by the way they were read."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", LIMIT)
    monkeypatch.setattr(pieces, "CHUNK", 7_777)  # cuts through characters and escapes
    monkeypatch.setattr(pieces, "KEYED_CHUNK", 9_999)
    met: list[str] = []
    real_facts, real_unbounded = bigvalue.text_facts, pieces.unbounded

    def facts(chunks: Any) -> bigvalue.TextFacts:
        met.append("pieces")
        return real_facts(chunks)

    def unbounded(conn: sqlite3.Connection) -> Any:
        met.append("whole")
        return real_unbounded(conn)

    monkeypatch.setattr(bigvalue, "text_facts", facts)
    monkeypatch.setattr(pieces, "unbounded", unbounded)
    return met


@pytest.mark.parametrize("chunk_rows", [4, 1000])
def test_large_values_profile_as_the_reference(
    large_file: Path, bounded: list[str], monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """Rowid ranges (dense), a scan per column (sparse rowids), a whole table or a GROUP BY
    (WITHOUT ROWID, one key or two, positions in key order), a table whose columns hide the
    rowid (its large values scanned whole): every field the reference's."""
    monkeypatch.setattr(profile, "_WHOLE_CHUNKS", 3)  # keyed tables: the GROUP BY path too
    expected = _reference(large_file)
    conn = _open(large_file)
    try:
        got = {
            name: {
                c: asdict(p)
                for c, p in profile._profile(conn, t, t.stored_columns, chunk_rows).items()
            }
            for name, t in _tables(conn).items()
        }
        assert conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) > LIMIT  # set back after
    finally:
        conn.close()
    for name in expected:
        assert got[name] == expected[name], name
    texts = 3 * len(_large_texts())  # t, j and created_at of each large text
    assert bounded.count("pieces") >= 4 * texts  # read in pieces in every locatable table
    assert "whole" in bounded  # the shadow table's, and key lookups


def test_profile_tables_in_threads_sets_large_values_apart(
    large_file: Path, bounded: list[str]
) -> None:
    expected = _reference(large_file)
    conn = sqlite3.connect(large_file)
    try:
        tables = list(_tables(conn).values())
    finally:
        conn.close()
    got = profile.profile_tables(lambda: _open(large_file), tables, 2, 4)
    assert {t: {c: asdict(p) for c, p in cols.items()} for t, cols in got.items()} == expected
    assert "pieces" in bounded


def test_a_common_file_takes_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Vendzz-shaped dirty file (its largest value a 1 MB quiz structure, under the 16 MB
    limit): no scan is split, nothing is read in pieces."""
    path = generate(tmp_path / "sample.db", rows=5000, seed=3, clean=False).path
    split: list[int] = []
    real = profile._apart
    monkeypatch.setattr(profile, "_apart", lambda *a: split.append(1) or real(*a))
    monkeypatch.setattr(bigvalue, "text_facts", lambda *_: split.append(2))
    conn = _open(path)
    try:
        for t in introspect(conn).tables:
            profile.profile_table(conn, t)
    finally:
        conn.close()
    assert not split


@pytest.mark.parametrize("kind", ["text", "json"])
def test_a_100_mb_text_infers_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    """Measured: ``schema infer`` of a file holding a 100 MB text (or JSON document) peaks
    below the value's size (521 MB for 126 MB of text, 846 MB for 109 MB of JSON before)."""
    src = tmp_path / "big.db"
    # JSON, but for the large one 5 in 6 (under jsonb's 9 in 10)
    size_mb, _ = big_source(src, kind, [json.dumps({"i": i}) for i in range(5)])
    out = tmp_path / "m.toml"
    cmd = [
        sys.executable,
        "-m",
        "vendzz_migrate",
        "-q",
        "schema",
        "infer",
        str(src),
        "-o",
        str(out),
    ]
    peak = peak_rss_mb(*cmd)
    print(f"schema infer of a {size_mb:.0f} MB {kind}: peak RSS {peak:.0f} MB")
    assert size_mb > 100
    assert peak < 100, f"peak RSS {peak:.0f} MB"
    mapped = out.read_text()
    assert ("jsonb" in mapped) == (kind == "json")  # the large value counted as what it is
