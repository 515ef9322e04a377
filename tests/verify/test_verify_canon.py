"""Equal values compare equal: the Python canonical form of a SQLite value (verify.canon) is
byte-for-byte what PostgreSQL computes (verify.pgcanon) for the value the copier stored.

Each example is loaded into a real PostgreSQL column with the copier's reference conversion,
then both canonical forms are compared. Never a mock."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.verify.helpers import is_utf8, needs_c
from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.convert import Kind, OnError, Reject, copy_escape, make
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import canon, fast, pgcanon

try:
    from vendzz_migrate import _speed
except ImportError:  # not built: test_the_c_speedup_is_built says so
    _speed = None  # type: ignore[assignment]

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
COLUMNS = {
    "t": "text",
    "i": "bigint",
    "f": "double precision",
    "r": "real",
    "n": "numeric",
    "b": "boolean",
    "ts": "timestamp with time zone",
    "j": "jsonb",
    "by": "bytea",
}
KINDS = {
    "t": Kind.TEXT,
    "i": Kind.INTEGER,
    "f": Kind.FLOAT,
    "r": Kind.FLOAT,
    "n": Kind.DECIMAL,
    "b": Kind.BOOLEAN,
    "ts": Kind.TIMESTAMP,
    "j": Kind.JSON,
    "by": Kind.BYTES,
}


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_url) as conn:
        cols = ", ".join(f'"{n}" {t}' for n, t in COLUMNS.items())
        conn.execute(f"CREATE TABLE v ({cols})".encode())
        conn.commit()
        yield conn


def _pg_canon(pg: psycopg.Connection, column: str, field: str) -> tuple[bool, Any]:
    """Load one COPY field into the column; PostgreSQL's canonical text (ok=False: refused)."""
    try:
        with pg.transaction(force_rollback=True), pg.cursor() as cur:
            with cur.copy(f'COPY v ("{column}") FROM STDIN'.encode()) as copy:
                copy.write(field.encode("utf-8") + b"\n")
            sql = pgcanon.value_sql(column, COLUMNS[column])
            row = cur.execute(f"SELECT {sql} FROM v".encode()).fetchone()
    except psycopg.errors.DataError:
        return False, None
    assert row is not None
    return True, row[0]


def _compare(pg: psycopg.Connection, column: str, raw: Raw) -> bool:
    """False when the copier or PostgreSQL refuses the value; else both canonical forms must
    be equal."""
    conv = make(KINDS[column], COLUMNS[column])
    try:
        field = conv.field(raw)
    except Reject:
        return False
    ok, expected = _pg_canon(pg, column, field)
    if ok:
        assert canon.column_canon(conv)(raw) == expected, (raw, field)
        kind = raw.kind.encode()
        fast_value = fast.column_fast(conv)(kind, raw.value)
        assert fast_value == (None if expected is None else expected.encode()), (raw, field)
    return ok


def _check(pg: psycopg.Connection, column: str, raw: Raw) -> None:
    assume(_compare(pg, column, raw))


@SETTINGS
@given(
    value=st.floats()
    | st.integers(-(2**53), 2**53)
    | st.sampled_from(
        [-0.0, 0.0, 5e-324, -5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, math.inf]
    )
)
def test_floats_compare_equal(pg: psycopg.Connection, value: float | int) -> None:
    _check(pg, "f", Raw.of(value))
    _check(pg, "r", Raw.of(value))
    if isinstance(value, float):
        _check(pg, "f", Raw.of(repr(value)))  # the same number stored as text


@SETTINGS
@given(
    value=st.decimals(allow_nan=False, allow_infinity=False)
    | st.integers(-(10**40), 10**40).map(Decimal)
)
def test_numerics_compare_equal(pg: psycopg.Connection, value: Decimal) -> None:
    _check(pg, "n", Raw.of(str(value)))


@SETTINGS
@given(value=st.none() | st.just("") | st.text() | st.integers())
def test_text_unicode_and_null_vs_empty(pg: psycopg.Connection, value: str | int | None) -> None:
    raw = Raw.of(value)
    if raw.kind == "null":
        assert canon.column_canon(make(Kind.TEXT, "text"))(raw) is None
        return
    _check(pg, "t", raw)


def _js_iso(moment: datetime) -> str:
    """JavaScript's ``toISOString()``: what the service writes into text timestamp columns."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _sql_datetime(moment: datetime) -> str:
    """SQLite's ``CURRENT_TIMESTAMP`` form."""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"


ANY_MOMENT = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
# the service's two text forms, with dates SQLite would normalise and Python refuses
EDGE_TEXT_TIMESTAMPS = [
    "2025-02-30T10:00:00.000Z",
    "2025-02-29 10:00:00",
    "2024-02-29T23:59:59.999Z",
    "0000-01-01 00:00:00",
    "0000-06-01T00:00:00.000Z",
    "2025-01-01 24:00:00",
    "2025-13-01T00:00:00.000Z",
    "2025-00-10 00:00:00",
    " 2025-01-01 00:00:00",
    "2025-01-01T00:00:00.000z",
    "2025-01-01T00:00:00Z",
    "2025-01-01 00:00:00.5",
    "9999-12-31T23:59:59.999Z",
    "0001-01-01 00:00:00",
    "1969-12-31T23:59:59.999Z",
    "0001-02-30T00:00:00.000Z",
    "2023-04-31 00:00:00",
]
TEXT_TIMESTAMPS = (
    ANY_MOMENT.map(_js_iso) | ANY_MOMENT.map(_sql_datetime) | st.sampled_from(EDGE_TEXT_TIMESTAMPS)
)


@SETTINGS
@given(
    value=st.integers(-(10**13), 10**14 - 1)
    | st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat())
    | TEXT_TIMESTAMPS
)
def test_timestamps_seconds_milliseconds_and_text(pg: psycopg.Connection, value: int | str) -> None:
    _check(pg, "ts", Raw.of(value))


@SETTINGS
@given(value=st.sampled_from([0, 1, "0", "1", "true", "false", "t", "f", " TRUE ", 1.0]))
def test_booleans(pg: psycopg.Connection, value: int | str | float) -> None:
    _check(pg, "b", Raw.of(value))


@SETTINGS
@given(value=st.binary() | st.integers(-(2**63), 2**63 - 1))
def test_bytes_and_integers(pg: psycopg.Connection, value: bytes | int) -> None:
    _check(pg, "by" if isinstance(value, bytes) else "i", Raw.of(value))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@SETTINGS
@given(
    value=JSON,
    indent=st.none() | st.integers(0, 3),
    ascii_only=st.booleans(),
    wrapped=st.booleans(),
)
def test_json_normalised_like_jsonb(
    pg: psycopg.Connection, value: Any, indent: int | None, ascii_only: bool, wrapped: bool
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    if wrapped:
        text = json.dumps(text)  # double-encoded, as Vendzz sometimes stored it
    _check(pg, "j", Raw.of(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"b": 1, "aa": 2, "a": 3, "": 4}',
        "[1.50, 1e2, -0, -0.0, 1E-3]",
        '{"x": 12345678901234567890123456789.000}',
        '"\\u00e9\\u0001\\/\\b\\f\\n\\r\\t\\"\\\\"',
        '{"é": 1, "z": 2, "ü": 3}',
        "  {  }  ",
        "[[], {}, [{}]]",
        '"{\\"a\\": [1, 2]}"',
    ],
)
def test_json_examples(pg: psycopg.Connection, text: str) -> None:
    assert _compare(pg, "j", Raw.of(text))


JSON_NO_FLOATS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.text()
    | st.sampled_from(["", "\x00", "\x7f", "\x1f", "😀", "\ud800", "a/b", '"\\']),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["", "a", "aa", "é", "😀"]), inner, max_size=5
        )
    ),
    max_leaves=25,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON written every way it may be: any whitespace between tokens, any character of a
    string escaped (\\uXXXX, surrogate pairs, \\/), integers as -0; some of it is not JSON at
    all (a lone surrogate, a raw control character: PostgreSQL refuses those)."""
    value = draw(
        st.one_of(
            st.lists(JSON_NO_FLOATS, max_size=4),
            st.dictionaries(st.text(max_size=4), JSON_NO_FLOATS, max_size=4),
        )
    )
    space = st.sampled_from(["", "", " ", "\n", "\t", "\r\n  "])

    def string(text: str) -> str:
        out = ['"']
        for char in text:
            how = draw(st.integers(0, 9))
            if char in '"\\' or (ord(char) < 0x20 and how):
                out.append(json.dumps(char)[1:-1])
            elif how == 0 and char == "/":
                out.append("\\/")
            elif how == 1 and ord(char) < 0x10000:
                out.append(f"\\u{ord(char):04{'x' if draw(st.booleans()) else 'X'}}")
            elif how == 1:
                code = ord(char) - 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(char)  # a raw control character here is not JSON
        return "".join(out) + '"'

    def write(node: Any) -> str:
        gap = draw(space)
        if isinstance(node, dict):
            return (
                "{"
                + gap
                + ",".join(
                    f"{draw(space)}{string(k)}{draw(space)}:{write(v)}" for k, v in node.items()
                )
                + draw(space)
                + "}"
            )
        if isinstance(node, list):
            return "[" + gap + ",".join(write(v) for v in node) + draw(space) + "]"
        if isinstance(node, str):
            return gap + string(node)
        if node == 0 and draw(st.booleans()):
            return gap + "-0"
        return gap + json.dumps(node)

    return draw(space) + write(value) + draw(space)


@needs_c
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=json_texts())
def test_c_json_text_is_what_postgresql_prints(pg: psycopg.Connection, text: str) -> None:
    """_speed.json_text (C, straight from the bytes) is sure only of what PostgreSQL accepts,
    and then prints exactly jsonb's text."""
    assert _speed is not None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, raw: no SQLite text holds it as UTF-8
        return
    got = _speed.json_text(data)
    ok, expected = _pg_canon(pg, "j", copy_escape(text))
    if not ok:
        assert got is None, text
    elif got is not None:
        assert got == expected.encode(), text


@needs_c
@settings(max_examples=1000, deadline=None)
@given(
    text=json_texts(),
    cut=st.integers(0, 400),
    junk=st.sampled_from(["", ",", "]", "}", ":", '"', "\\", "x", "1.5", "\x00", "\ud800", "\xff"]),
)
def test_c_json_text_never_sure_of_what_the_python_path_refuses(
    text: str, cut: int, junk: str
) -> None:
    """Cut and spliced documents: whenever _speed.json_text is sure, the reference (itself
    held to PostgreSQL above) prints the same bytes; when the reference refuses the text (not
    JSON), the C one is never sure."""
    assert _speed is not None
    broken = text[:cut] + junk + text[cut:] if junk else text[:cut]
    for candidate in (text, broken):
        try:
            data = candidate.encode("utf-8", "surrogatepass")
        except UnicodeEncodeError:
            continue
        got = _speed.json_text(data)
        if got is None:
            continue
        assert canonical.jsonb_canon(candidate).encode() == got, candidate


def test_wrapped_invalid_json_is_a_json_string(pg: psycopg.Connection) -> None:
    conv = make(Kind.JSON, "jsonb", on_error=OnError.WRAP)
    ok, expected = _pg_canon(pg, "j", copy_escape(json.dumps('not "json"\n\t')))
    assert ok
    assert canon.column_canon(conv)(Raw.of('not "json"\n\t')) == expected


@SETTINGS
@given(values=st.lists(st.none() | st.just("") | st.text(), min_size=3, max_size=3))
def test_row_hash_matches_postgres(pg: psycopg.Connection, values: list[str | None]) -> None:
    """NULL vs '' and any unicode, across a text, a jsonb and a bytea column."""
    assume(all(v is None or "\x00" not in v for v in values))
    t, j, b = values
    line = "\t".join(
        [
            "\\N" if t is None else copy_escape(t),
            "\\N" if j is None else copy_escape(json.dumps(j)),
            "\\N" if b is None else "\\\\x" + b.encode().hex(),
        ]
    )
    cols = [("t", "text"), ("j", "jsonb"), ("by", "bytea")]
    try:
        with pg.transaction(force_rollback=True), pg.cursor() as cur:
            with cur.copy(b'COPY v ("t", "j", "by") FROM STDIN') as copy:
                copy.write(line.encode("utf-8") + b"\n")
            row = cur.execute(f"SELECT md5({pgcanon.row_sql(cols)}) FROM v".encode()).fetchone()
    except psycopg.errors.DataError:
        assume(False)
        return
    assert row is not None
    forms = [
        None if t is None else t.encode(),
        None if j is None else canonical.jsonb_canon(json.dumps(j)).encode(),
        None if b is None else b.encode().hex().encode(),
    ]
    assert canon.hash128(canon.row_bytes(forms)) == row[0]


SQLITE_VALUES = (
    st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text()
    | st.binary()
    | st.sampled_from([0, 1, 10**11 - 1, 10**11, 10**14 - 1, -1, "a\x00b", "\x00"])
    # the edges of the timestamp range (0001-01-01, 9999-12-31) in s and ms
    | st.sampled_from(
        [
            -62135596800,
            -62135596801,
            253402300799,
            253402300800,
            -62135596800000,
            -62135596800001,
            -7 * 10**10,
            -(10**11) + 1,
            -(10**14) + 1,
            -(10**14),
        ]
    )
    | TEXT_TIMESTAMPS
)


@settings(max_examples=300, deadline=None)
@given(
    value=SQLITE_VALUES,
    column=st.sampled_from(
        [
            ("t", "text"),
            ("i", "integer"),
            ("i", "bigint"),
            ("b", "boolean"),
            ("ts", "timestamptz"),
            ("by", "bytea"),
        ]
    ),
)
def test_sqlite_pieces_equal_the_python_canonical_form(value: Any, column: tuple[str, str]) -> None:
    """The pieces SQLite builds in SQL (litesql) are byte for byte the Python ones (fast)."""
    import sqlite3

    from vendzz_migrate.verify import litesql

    name, pg_type = column
    conv = make(KINDS[name], pg_type)
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    conn.execute(f'CREATE TABLE v ("{name}")')
    conn.execute("INSERT INTO v VALUES (?)", (value,))
    sql = litesql.piece_sql(name, conv)
    assert sql is not None
    piece, kind, stored = conn.execute(
        f'SELECT {sql}, typeof("{name}"), "{name}" FROM v'
    ).fetchone()
    # a row of one SQL group, as litesql.assemble() takes it (a NUL byte: the Python path)
    piece = litesql.assemble(litesql.RowPlan("", ((0, None),), (), (), 1), (piece,))
    try:
        expected = fast.column_fast(conv)(kind, stored)
    except Reject:
        # invalid UTF-8 text: PostgreSQL refuses the row; a NUL byte: the Python path; a
        # value of any other kind that the copier refuses is never built by SQLite
        assert piece is None or (
            conv.kind is Kind.TEXT and kind == b"text" and b"\x00" not in stored
        )
        return
    if piece is None:
        return  # the Python path decides
    assert piece == (b"\xfe" if expected is None else b"\xff" + expected)


@pytest.mark.parametrize("text", EDGE_TEXT_TIMESTAMPS)
def test_text_timestamps_at_the_edges(text: str) -> None:
    """Each edge of the service's two text forms: SQLite builds the piece exactly when the
    copier accepts the value, and then byte for byte the reference canonical form."""
    import sqlite3

    from vendzz_migrate.verify import litesql

    conv = make(Kind.TIMESTAMP, "timestamptz")
    try:
        expected: bytes | None = _utf8(canon.column_canon(conv)(Raw.of(text)))
    except Reject:
        expected = None
    sql = litesql.piece_sql("ts", conv)
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    piece = conn.execute(f'SELECT {sql} FROM (SELECT ? AS "ts")', (text,)).fetchone()[0]
    if expected is None:
        assert piece is None
        return
    assert fast.column_fast(conv)(b"text", text.encode()) == expected
    if piece is not None:
        assert piece == b"\xff" + expected
    else:  # left to Python: only what is neither of the two forms
        assert SERVICE_TIMESTAMP.fullmatch(text) is None


# the two text forms the service writes: toISOString() and SQLite's CURRENT_TIMESTAMP
SERVICE_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d\.\d{3}Z| \d\d:\d\d:\d\d)", re.ASCII
)


def _utf8(text: str | None) -> bytes:
    assert text is not None
    return text.encode()


RAW_TEXT = (
    st.none()
    | st.integers(-3, 3)
    | st.binary(max_size=4)
    | st.sampled_from(
        [b"\xff", b"\xfe", b"a\xffb", b"\xfe\xff", b"", b"\xc3\xa9", b"\xc3", b"\xa9"]
    )
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(RAW_TEXT, RAW_TEXT, RAW_TEXT), min_size=2, max_size=2))
def test_rows_built_by_sqlite_are_equal_only_when_their_values_are(
    rows: list[tuple[Any, Any, Any]],
) -> None:
    """SQLite builds a group of columns as one string from the raw stored bytes, which need not
    be UTF-8: a value holding byte 0xFF or 0xFE (the markers) must never make two different
    rows give the same accepted bytes (assemble() sends such rows to the Python path)."""
    import sqlite3

    from vendzz_migrate.verify import litesql

    conv = make(Kind.TEXT, "text")
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    conn.execute("CREATE TABLE v (a, b, c)")
    for row in rows:  # bytes are stored as TEXT holding those very bytes
        conn.execute(
            "INSERT INTO v VALUES ("
            + ", ".join("CAST(? AS TEXT)" if isinstance(v, bytes) else "?" for v in row)
            + ")",
            row,
        )
    group = " || ".join(f"({litesql.piece_sql(c, conv)})" for c in "abc")
    plan = litesql.RowPlan("", ((0, None),), (), (), 3)
    built = [litesql.assemble(plan, r) for r in conn.execute(f"SELECT {group} FROM v")]
    stored = list(conn.execute("SELECT typeof(a), a, typeof(b), b, typeof(c), c FROM v"))
    for data, raw in zip(built, stored, strict=True):
        if data is None:
            continue
        try:  # accepted: exactly the Python canonical form of the values...
            values = [fast.column_fast(conv)(raw[i], raw[i + 1]) for i in (0, 2, 4)]
        except Reject:  # ...or a value that is not UTF-8: no PostgreSQL row has these bytes
            assert not all(is_utf8(part) for part in re.split(b"[\xfe\xff]", data))
            continue
        assert data == canon.row_bytes(values)
    if built[0] is not None and built[0] == built[1]:
        assert stored[0] == stored[1]


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


C_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["\x00", "a\x7fb", "\x1f\x08\x0c", "😀é", '"\\/']),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["", "a", "aa", "b", "é", "z", "ab", "😀"]),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def test_the_c_speedup_is_built() -> None:
    """verify's speed relies on _speed.c: an install that could not build it must not pass CI
    unnoticed (without it verify is as exact, only slower: optional elsewhere)."""
    if _speed is None and not os.environ.get("CI"):
        pytest.skip("the optional C extension is not built (CI requires it)")
    assert _speed is not None
    assert canonical._speed is _speed
    assert fast.has_sums


@needs_c
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.integers(0, 200).map(lambda n: b"\xff" * n))
def test_c_md5_is_md5(data: bytes) -> None:
    """_speed.md5 (C, used by the row loop) is hashlib's MD5, at every padding boundary."""
    import hashlib

    assert _speed is not None
    assert _speed.md5(data) == hashlib.md5(data).digest()


@needs_c
@settings(max_examples=500, deadline=None)
@given(
    value=st.lists(C_JSON, max_size=3) | st.dictionaries(st.text(max_size=4), C_JSON, max_size=4),
    indent=st.none() | st.integers(0, 2),
    ascii_only=st.booleans(),
)
def test_c_json_text_takes_documents_without_fractions(
    value: Any, indent: int | None, ascii_only: bool
) -> None:
    """_speed.json_text (jsonb's one fast tier) prints exactly what the reference prints, and
    steps aside only for numbers with a fraction or an exponent and strings holding NUL."""
    assert _speed is not None
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    got = _speed.json_text(text.encode("utf-8"))
    if got is None:
        assert _has_float(value) or "\\u0000" in text, text
        return
    assert got == canonical.jsonb_canon(text).encode()


KEY_VALUES = (
    st.tuples(
        st.just(b"text"),
        st.binary(max_size=12)
        | st.sampled_from(
            [b"\xff", b"a\x00", "é".encode(), b""] + [t.encode() for t in ["abc", "id_1"]]
        ),
    )
    | st.tuples(st.just(b"blob"), st.binary(max_size=6))
    | st.tuples(st.just(b"integer"), st.integers(-5, 5))
    | st.tuples(st.just(b"real"), st.floats(allow_nan=False))
    | st.just((b"null", None))
)


@settings(max_examples=300, deadline=None)
@given(row=KEY_VALUES)
def test_key_of_text_key_shortcut_equals_the_canonical_key(row: tuple[bytes, Any]) -> None:
    """A one-column text key is read without its column canon; same key, or None, as with."""
    from vendzz_migrate.verify import litesql

    conv = make(Kind.TEXT, "text", not_null=True)
    canons = (fast.column_fast(conv),)
    short = litesql.RowPlan("", (), (0,), canons, 1, text_key=0)
    general = litesql.RowPlan("", (), (0,), canons, 1)
    assert litesql.key_of(short, row) == litesql.key_of(general, row)
