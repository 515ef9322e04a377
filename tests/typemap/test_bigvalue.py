"""typemap.bigvalue: each fact read from a large text's pieces is SQLite's own answer over the
whole value (length(), the NUL test, json_valid(), the double-encoding test), however the
pieces cut it (through characters, escapes and surrogate pairs)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.typemap.test_profile_large import _large_texts
from vendzz_migrate.typemap import bigvalue

_STRING_CLASS = (
    "CASE WHEN NOT json_valid(?1) THEN 'text' WHEN json_valid(json_extract(?1, '$')) THEN"
    " CASE WHEN json_type(json_extract(?1, '$')) IN ('object', 'array', 'text') THEN 'json_d'"
    " ELSE 'json_s' END ELSE 'json_s' END"
)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _texts() -> list[bytes]:
    return [v if isinstance(v, bytes) else v.encode() for v in _large_texts()] + [
        b"x",
        b'"a"',
        b"\xc3\xa9" * 5 + b"\x80" + b"a\x80\x80",  # a stray run after ASCII
        b"\xf0\x9f\x98\x80" * 3 + b"\xbf",
    ]


@pytest.fixture(scope="module")
def lite() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    yield conn
    conn.close()


def _sqlite(lite: sqlite3.Connection, expr: str, data: bytes) -> object:
    return lite.execute(f"SELECT {expr} FROM (SELECT CAST(? AS TEXT) AS v)", (data,)).fetchone()[0]


@pytest.mark.parametrize("size", [61, 7777, 1 << 20])
def test_text_facts_are_sqlite_s(lite: sqlite3.Connection, size: int) -> None:
    for data in _texts():
        facts = bigvalue.text_facts(_pieces(data, size))
        assert facts.characters == _sqlite(lite, "length(v)", data), data[:40]
        assert facts.nul == bool(_sqlite(lite, "instr(CAST(v AS BLOB), X'00') > 0", data))
        assert facts.nul or facts.head == data[:16]  # reading stops at a NUL


@pytest.mark.parametrize("size", [61, 7777, 1 << 20])
def test_json_answers_are_sqlite_s(lite: sqlite3.Connection, size: int) -> None:
    seen = {"text": 0, "json_s": 0, "json_d": 0, "valid": 0, "invalid": 0}
    for data in _texts():
        if b"\x00" in data or data[:1] not in (b"{", b"[", b'"'):
            continue
        try:
            data.decode()
        except UnicodeDecodeError:
            continue  # SQLite does not check UTF-8 in JSON; the copy rejects such text
        if data[:1] == b'"':
            want = lite.execute(f"SELECT {_STRING_CLASS}", (data.decode(),)).fetchone()[0]
            got = bigvalue.json_class(lambda data=data: _pieces(data, size))  # type: ignore[misc]
            assert got == want.decode(), data[:40]
            seen[got] += 1
        else:
            valid = bool(lite.execute("SELECT json_valid(?)", (data.decode(),)).fetchone()[0])
            assert bigvalue.json_valid(_pieces(data, size)) == valid, data[:40]
            seen["valid" if valid else "invalid"] += 1
    assert all(seen.values()), seen  # every answer was given somewhere
