"""Column profiles: the fast profiler gives exactly the profile of the plain reference.

The reference (``oracle_profile``) is the previous implementation kept verbatim: one GROUP BY
per column over a CASE that names each value's class. The fast one classifies with cheaper
tests, counts one-letter classes from a group_concat() per rowid range, guesses min / max /
length from the affinity and checks the guess. Every field must match, for every column of a
dirty sample file and of hypothesis-made columns of mixed values, whatever the rowid layout,
the chunk size, the thread count, the text encoding and the text factory.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendzz_migrate.sample import generate
from vendzz_migrate.source import qi
from vendzz_migrate.source.introspect import Column, Table, introspect
from vendzz_migrate.source.snapshot import open_snapshot
from vendzz_migrate.typemap import profile
from vendzz_migrate.typemap.profile import (
    EPOCH_MS,
    EPOCH_S,
    ColumnProfile,
    profile_column,
    profile_table,
    profile_tables,
    time_like,
)

# --- the reference: the previous implementation, unchanged --------------------------------

_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*"
_ORACLE_FIELDS = {
    "null": ("nulls",),
    "int01": ("integers", "zero_one"),
    "int": ("integers",),
    "int_s": ("integers", "epoch_s"),
    "int_ms": ("integers", "epoch_ms"),
    "real": ("reals",),
    "real2": ("reals", "real_2dp"),
    "real_s": ("reals", "epoch_s"),
    "real_ms": ("reals", "epoch_ms"),
    "empty": ("texts", "empty"),
    "nul": ("texts", "nul_bytes"),
    "json_c": ("texts", "json_container"),
    "json_s": ("texts", "json_scalar"),
    "json_d": ("texts", "json_scalar", "json_double"),
    "date": ("texts", "iso_text", "date_only"),
    "iso": ("texts", "iso_text"),
    "num": ("texts", "numeric_text"),
    "special": ("texts", "special_float_text"),
    "text": ("texts",),
    "blob": ("blobs",),
}


def _oracle_class_sql(col: Column) -> str:
    c = qi(col.name)
    timey = time_like(col)
    texty = col.affinity in ("TEXT", "BLOB", "NUMERIC")
    inner = f"json_extract({c}, '$')"
    s_range, ms_range = (
        f"BETWEEN {EPOCH_S[0]} AND {EPOCH_S[1]}",
        f"BETWEEN {EPOCH_MS[0]} AND {EPOCH_MS[1]}",
    )
    epoch = (
        f"WHEN {c} {s_range} THEN '{{0}}_s' WHEN {c} {ms_range} THEN '{{0}}_ms'" if timey else ""
    )
    json_ = (
        f"WHEN substr({c}, 1, 1) IN ('{{', '[', '\"') AND json_valid({c}) THEN"
        f" CASE WHEN json_type({c}) IN ('object', 'array') THEN 'json_c'"
        f" WHEN json_type({c}) <> 'text' THEN 'json_s'"
        f" WHEN json_valid({inner}) THEN CASE WHEN json_type({inner})"
        f" IN ('object', 'array', 'text') THEN 'json_d' ELSE 'json_s' END"
        f" ELSE 'json_s' END"
        if texty
        else ""
    )
    numbers = (
        f"WHEN length({c}) < 40 AND {c} GLOB '*[0-9]*' AND NOT {c} GLOB '*[^0-9.eE+-]*'"
        f" THEN 'num' WHEN length({c}) < 12 AND lower(trim({c})) IN ('infinity',"
        f" '+infinity', '-infinity', 'inf', '+inf', '-inf', 'nan') THEN 'special'"
        if col.affinity in ("REAL", "NUMERIC")
        else ""
    )
    dates = (
        f"WHEN {c} GLOB '{_DATE_GLOB}' AND julianday({c}) IS NOT NULL THEN"
        f" CASE WHEN length({c}) = 10 THEN 'date' ELSE 'iso' END"
        if timey
        else ""
    )
    return (
        f"CASE typeof({c}) WHEN 'null' THEN 'null'"
        f" WHEN 'integer' THEN CASE WHEN {c} IN (0, 1) THEN 'int01' {epoch.format('int')}"
        f" ELSE 'int' END"
        f" WHEN 'real' THEN CASE {epoch.format('real')} WHEN round({c}, 2) = {c} THEN 'real2'"
        f" ELSE 'real' END"
        f" WHEN 'text' THEN CASE WHEN {c} = '' THEN 'empty'"
        f" WHEN instr(CAST({c} AS BLOB), X'00') > 0 THEN 'nul' {json_} {dates} {numbers}"
        f" ELSE 'text' END ELSE 'blob' END"
    )


def _pick(fn: Callable[[Any, Any], Any], old: Any, new: Any) -> Any:
    if new is None:
        return old
    return new if old is None else fn(old, new)


def oracle_profile(conn: sqlite3.Connection, table: Table, col: Column) -> ColumnProfile:
    c = qi(col.name)
    sql = (
        f"SELECT cls, count(*), min(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
        f" max(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
        f" max(CASE WHEN typeof({c}) = 'text' THEN length({c}) END),"
        f" max(CASE WHEN typeof({c}) = 'real' THEN abs({c}) END)"
        f" FROM (SELECT {_oracle_class_sql(col)} AS cls, {c} FROM {qi(table.name)})"
        f" GROUP BY cls"
    )
    prof = ColumnProfile()
    for cls, n, imin, imax, maxlen, rmax in conn.execute(sql):
        prof.rows += int(n)
        for name in _ORACLE_FIELDS[cls.decode() if isinstance(cls, bytes) else cls]:
            setattr(prof, name, getattr(prof, name) + int(n))
        prof.int_min = _pick(min, prof.int_min, imin)
        prof.int_max = _pick(max, prof.int_max, imax)
        prof.max_length = _pick(max, prof.max_length, maxlen)
        prof.real_max_abs = _pick(max, prof.real_max_abs, rmax)
    return prof


def oracle(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t.name: {c.name: asdict(oracle_profile(conn, t, c)) for c in t.stored_columns}
            for t in introspect(conn).tables
        }
    finally:
        conn.close()


def as_dicts(profiles: dict[str, dict[str, ColumnProfile]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {t: {c: asdict(p) for c, p in cols.items()} for t, cols in profiles.items()}


def fast(
    path: Path, *, workers: int, chunk_rows: int, text_bytes: bool
) -> dict[str, dict[str, dict[str, Any]]]:
    def opener() -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False)
        if text_bytes:
            conn.text_factory = bytes
        return conn

    conn = opener()
    try:
        tables = introspect(conn).tables
    finally:
        conn.close()
    return as_dicts(profile_tables(opener, tables, workers, chunk_rows=chunk_rows))


def assert_same(
    expected: dict[str, dict[str, dict[str, Any]]], got: dict[str, dict[str, dict[str, Any]]]
) -> None:
    assert list(got) == list(expected)
    for table, cols in expected.items():
        assert list(got[table]) == list(cols), table
        for col, prof in cols.items():
            assert got[table][col] == prof, (table, col)
            # and of the same type (1 == 1.0 in Python); the sign of a zero maximum is left
            # open: the reference takes the first of -0.0 and 0.0 in the order its sort gives
            assert {k: type(v) for k, v in got[table][col].items()} == {
                k: type(v) for k, v in prof.items()
            }, (table, col)


# --- a dirty sample file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(
        tmp_path_factory.mktemp("profile") / "dirty.db", rows=5000, seed=11, clean=False
    ).path


@pytest.mark.parametrize(
    ("workers", "chunk_rows", "text_bytes"),
    [(2, profile.CHUNK_ROWS, True), (2, 97, False), (1, 1000, True)],
)
def test_dirty_sample_matches_reference(
    dirty: Path, workers: int, chunk_rows: int, text_bytes: bool
) -> None:
    assert_same(
        oracle(dirty), fast(dirty, workers=workers, chunk_rows=chunk_rows, text_bytes=text_bytes)
    )


def test_dirty_sample_sequential_and_snapshot(dirty: Path) -> None:
    expected = oracle(dirty)
    conn = open_snapshot(dirty)  # what sqlite-to-pg profiles: immutable, text as bytes
    try:
        tables = introspect(conn).tables
        assert_same(expected, as_dicts({t.name: profile_table(conn, t) for t in tables}))
        users = next(t for t in tables if t.name == "users")
        col = users.column("createdAt")
        assert asdict(profile_column(conn, users, col)) == expected["users"]["createdAt"]
    finally:
        conn.close()


def test_dirty_sample_has_what_the_profiler_must_see(dirty: Path) -> None:
    """The sample really exercises the rare classes and the exact-statistics fallback."""
    seen = {k for cols in oracle(dirty).values() for p in cols.values() for k, v in p.items() if v}
    assert {
        "json_container",
        "json_double",
        "json_scalar",
        "nul_bytes",
        "empty",
        "iso_text",
        "epoch_ms",
        "epoch_s",
        "zero_one",
        "real_2dp",
        "special_float_text",
    } <= seen
    conn = sqlite3.connect(dirty)
    try:
        subs = next(t for t in introspect(conn).tables if t.name == "quiz_responses")
        units = profile._plan(conn, subs, subs.stored_columns, 1000)
        _, todo = profile._pending(
            subs.stored_columns, [(u, profile._scan(conn, u)) for u in units]
        )
    finally:
        conn.close()
    assert len(units) > 1 and "submittedAt" in {c.name for c in todo}  # ints and ISO text


# --- hypothesis: columns of mixed values -------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "a\x00b",
            "\x00",
            "{\x00}",
            '{"a":1}\x00',
            '{"a": 1}',
            "[1, 2]",
            "[]",
            "{}",
            "{bad",
            "[",
            '"',
            '"str"',
            '"1"',
            '"[1]"',
            '"{\\"a\\": 1}"',
            '"\\"x\\""',
            '"[oops"',
            "[1,]",
            " [1]",
            "{'a': 1}",
            "2024-01-31",
            "2024-01-31T10:00:00Z",
            "2024-01-31 10:00:00",
            "2024-13-45",
            "2024-02-30 10:00:00",
            "2024-01-31x",
            "1.5e3",
            "+1",
            "-",
            "e",
            "12",
            "0.25",
            " inf",
            "Infinity",
            "-INF",
            "NaN",
            "nan ",
            "1" * 45,
            "é",
            "日本語",
            "\ud7ff",
        ]
    ),
    JSON_VALUES.map(json.dumps),
    JSON_VALUES.map(lambda v: json.dumps(json.dumps(v))),  # double-encoded
    st.dates().map(date.isoformat),
    st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    st.integers().map(str),
)
INTEGERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(
        [
            0,
            1,
            -1,
            2,
            EPOCH_S[0] - 1,
            EPOCH_S[0],
            EPOCH_S[1],
            EPOCH_S[1] + 1,
            EPOCH_MS[0] - 1,
            EPOCH_MS[0],
            EPOCH_MS[1],
            EPOCH_MS[1] + 1,
        ]
    ),
    st.integers(min_value=EPOCH_S[0], max_value=EPOCH_S[1]),
    st.integers(min_value=EPOCH_MS[0], max_value=EPOCH_MS[1]),
)
REALS = st.one_of(
    st.floats(allow_nan=False),
    st.integers(min_value=-(10**8), max_value=10**8).map(lambda i: i / 100),
    st.floats(min_value=EPOCH_S[0], max_value=EPOCH_MS[1] * 1.01),
    st.sampled_from([-0.0, 0.0, 0.5, 1.0, 0.125, 1e300, -1e-300, float("inf"), float("-inf")]),
)
VALUES = st.one_of(st.none(), INTEGERS, REALS, TEXTS, st.binary(max_size=12))
# name, declared type: every affinity, time-like or not by name or by type
COLUMNS = [
    ("createdAt", "INTEGER"),
    ("count", "INTEGER"),
    ("amount", "REAL"),
    ("payload", "TEXT"),
    ("expires_at", "TEXT"),
    ("note", ""),
    ("seenAt", ""),
    ("startDate", "DATETIME"),
    ("price", "NUMERIC"),
    ("blobby", "BLOB"),
]
LAYOUTS = ["rowid", "alias", "without", "shadow", "sparse"]


def build(
    path: Path, layout: str, encoding: str, rows: list[tuple[Any, ...]], rowids: list[int]
) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA encoding = '{encoding}'")
    cols = ", ".join(f"{qi(n)} {t}" for n, t in COLUMNS)
    names = ", ".join(qi(n) for n, _ in COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    if layout in ("rowid", "sparse"):
        conn.execute(f"CREATE TABLE t ({cols})")
        if layout == "sparse":  # far apart rowids, down to the 64-bit limits
            conn.executemany(
                f"INSERT INTO t (rowid, {names}) VALUES (?, {marks})",
                [(i, *row) for i, row in zip(rowids, rows, strict=False)],
            )
        else:
            conn.executemany(f"INSERT INTO t ({names}) VALUES ({marks})", rows)
    elif layout in ("alias", "without"):
        tail = " WITHOUT ROWID" if layout == "without" else ""
        conn.execute(f"CREATE TABLE t (k INTEGER PRIMARY KEY, {cols}){tail}")
        conn.executemany(
            f"INSERT INTO t (k, {names}) VALUES (?, {marks})",
            [(i * 3, *row) for i, row in enumerate(rows)],
        )
    else:  # columns named rowid, oid and _rowid_: the real rowid has no name left
        conn.execute(f"CREATE TABLE t (rowid, oid INTEGER, _rowid_ TEXT, {cols})")
        conn.executemany(
            f"INSERT INTO t VALUES (?, ?, ?, {marks})",
            [(row[0], row[1], row[3], *row) for row in rows],
        )
    conn.execute("CREATE TABLE empty_one (a INTEGER, b TEXT)")
    conn.commit()
    conn.close()


FLAVORS = [
    VALUES,
    VALUES,
    INTEGERS,
    REALS,
    TEXTS,
    st.none() | INTEGERS,
    st.none() | TEXTS,
    st.none() | REALS,
    st.none() | st.binary(max_size=8),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=3) | st.binary(max_size=16),
]  # blobs longer than the text


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Rows of COLUMNS, each column of one flavour (one kind of value, or any mix), and
    distinct rowids for the sparse layout."""
    n = draw(st.integers(min_value=0, max_value=30))
    columns = [
        draw(st.lists(draw(st.sampled_from(FLAVORS)), min_size=n, max_size=n)) for _ in COLUMNS
    ]
    rowids = draw(
        st.lists(
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            unique=True,
            min_size=n,
            max_size=n,
        )
    )
    return list(zip(*columns, strict=True)), rowids


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    table=tables(),
    layout=st.sampled_from(LAYOUTS),
    encoding=st.sampled_from(["UTF-8", "UTF-16le"]),
    chunk_rows=st.sampled_from([1, 2, 3, 7, profile.CHUNK_ROWS]),
    whole_chunks=st.sampled_from([2, 64]),
    workers=st.sampled_from([1, 2]),
    text_bytes=st.booleans(),
)
def test_mixed_columns_match_reference(
    table: tuple[list[tuple[Any, ...]], list[int]],
    layout: str,
    encoding: str,
    chunk_rows: int,
    whole_chunks: int,
    workers: int,
    text_bytes: bool,
) -> None:
    rows, rowids = table
    saved = profile._WHOLE_CHUNKS
    profile._WHOLE_CHUNKS = whole_chunks  # 2: small tables without ranges take the GROUP BY
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "h.db"
            build(path, layout, encoding, rows, rowids)
            assert_same(
                oracle(path),
                fast(path, workers=workers, chunk_rows=chunk_rows, text_bytes=text_bytes),
            )
    finally:
        profile._WHOLE_CHUNKS = saved


# --- how tables are split into scans ---------------------------------------------------------


@pytest.fixture
def layouts(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, dict[str, Table]]]:
    conn = sqlite3.connect(tmp_path / "l.db")
    conn.executescript("""
        CREATE TABLE dense (a INTEGER, b TEXT);
        CREATE TABLE sparse (a INTEGER, b TEXT);
        CREATE TABLE wide_sparse (a INTEGER, b TEXT);
        CREATE TABLE norowid (k INTEGER PRIMARY KEY, a TEXT) WITHOUT ROWID;
        CREATE TABLE huge_norowid (k INTEGER PRIMARY KEY, a TEXT) WITHOUT ROWID;
        CREATE TABLE shadow (rowid TEXT, oid TEXT, _rowid_ TEXT);
        CREATE TABLE none_yet (a INTEGER);
    """)
    conn.executemany("INSERT INTO dense VALUES (?, ?)", [(i, str(i)) for i in range(100)])
    conn.executemany(
        "INSERT INTO sparse (rowid, a) VALUES (?, ?)", [(i * 10**15, i) for i in range(5)]
    )
    conn.executemany(
        "INSERT INTO wide_sparse (rowid, a) VALUES (?, ?)", [(i * 10**15, i) for i in range(50)]
    )
    conn.executemany("INSERT INTO norowid VALUES (?, ?)", [(i, "x") for i in range(50)])
    conn.executemany("INSERT INTO huge_norowid VALUES (?, ?)", [(i, "x") for i in range(700)])
    conn.executemany("INSERT INTO shadow VALUES (?, ?, ?)", [("a", "b", "c")] * 5)
    conn.commit()
    yield conn, {t.name: t for t in introspect(conn).tables}
    conn.close()


def test_scans_by_rowid_range_or_group_by(
    layouts: tuple[sqlite3.Connection, dict[str, Table]],
) -> None:
    conn, tables = layouts

    def plan(name: str) -> list[profile._Unit]:
        return profile._plan(conn, tables[name], tables[name].stored_columns, 10)

    dense = plan("dense")  # rowids 1..100 in ranges of 10, both columns in each scan
    assert [u.rowids for u in dense] == [("rowid", i, i + 9) for i in range(1, 101, 10)]
    assert all(len(u.columns) == 2 and not u.grouped for u in dense)
    assert [(u.rowids, u.grouped) for u in plan("sparse")] == [(None, False)]  # 5 rows: one scan
    wide = plan("wide_sparse")  # 50 rows far apart: a scan per column
    assert [(len(u.columns), u.rowids, u.grouped) for u in wide] == [(1, None, False)] * 2
    assert [(u.rowids, u.grouped) for u in plan("norowid")] == [(None, False)] * 2
    # more than 64 chunks of rows and no ranges: a GROUP BY per column, memory bounded
    assert [(u.rowids, u.grouped) for u in plan("huge_norowid")] == [(None, True)] * 2
    assert [(u.rowids, u.grouped) for u in plan("shadow")] == [(None, False)]
    assert [u.rowids for u in plan("none_yet")] == [None]
    for name, table in tables.items():
        assert as_dicts({name: profile._profile(conn, table, table.stored_columns, 10)}) == {
            name: {c.name: asdict(oracle_profile(conn, table, c)) for c in table.stored_columns}
        }


def test_every_class_letter_is_counted() -> None:
    assert sorted(profile._COUNT_ORDER) == sorted(c.encode() for c in profile._CLASS)
    assert set(profile._CLASS.values()) == set(_ORACLE_FIELDS)


def test_pinned_classes(tmp_path: Path) -> None:
    """A few values whose class is easy to get wrong, profiled by hand."""
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute("CREATE TABLE p (payload TEXT, createdAt INTEGER, note TEXT)")
    conn.executemany(
        "INSERT INTO p VALUES (?, ?, ?)",
        [
            ('{"a": 1}', 1_700_000_000, "ab"),
            ("{not json", 1_700_000_000_000, b"long blob"),
            ('"[1, 2]"', 0, None),
            ('"plain"', "2024-01-31", None),
            ('{"a":1}\x00', "2024-01-31T10:00:00Z", None),
            ("", None, None),
        ],
    )
    conn.commit()
    table = introspect(conn).tables[0]
    got = profile_table(conn, table)
    conn.close()
    assert got["payload"] == ColumnProfile(
        rows=6,
        texts=6,
        empty=1,
        max_length=9,
        json_container=1,
        json_double=1,
        json_scalar=2,
        nul_bytes=1,
    )
    assert got["createdAt"] == ColumnProfile(
        rows=6,
        nulls=1,
        integers=3,
        texts=2,
        int_min=0,
        int_max=1_700_000_000_000,
        zero_one=1,
        max_length=20,
        iso_text=2,
        date_only=1,
        epoch_s=1,
        epoch_ms=1,
    )
    # the blob's 9 bytes are no text length
    assert got["note"] == ColumnProfile(rows=6, nulls=4, texts=1, blobs=1, max_length=2)
