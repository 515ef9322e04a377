"""The SQLite fast path and the Python slow path of every conversion agree.

For any value the fast path claims (``ok_sql`` true), the text it formats inside SQLite must
mean the same as the reference Python conversion's text.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendzz_migrate.typemap.convert import (
    EPOCH_UNITS,
    Conversion,
    Kind,
    Reject,
    copy_escape,
    epoch_scale,
    epoch_sql,
    epoch_to_datetime,
    finish_line,
    line_sql,
    make,
    unwrap_json,
)
from vendzz_migrate.typemap.values import Raw, decode_raw, encode_raw

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
EDGE_INTS = st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)])
FLOATS = st.floats(allow_nan=False) | st.sampled_from(
    [-0.0, 5e-324, 1.7976931348623157e308, 1e-12, 1e15, 0.1, 1e300, -1e-300]
)
TEXTS = st.text() | st.sampled_from(["", "a\x00b", "é", "\t\n\r\\", "1.0", " 42 ", "Infinity"])
VALUES = st.one_of(st.none(), INT64, EDGE_INTS, FLOATS, TEXTS, st.binary(max_size=20))
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def lite() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    conn.execute("CREATE TABLE v (x)")
    return conn


def fast(lite: sqlite3.Connection, conv: Conversion, value: object) -> tuple[bytes | None, Raw]:
    """The fast path's COPY field for ``value`` (None when it does not claim the value), and
    the value as SQLite really stores it (e.g. SQLite keeps no -0.0)."""
    lite.execute("DELETE FROM v")
    lite.execute("INSERT INTO v VALUES (?)", (value,))
    line, nulls = line_sql([("x", conv)])
    row = lite.execute(f"SELECT {line}, {nulls}, typeof(x), x FROM v").fetchone()
    # a value holding a tab is not claimed (finish_line sends its row to the slow path)
    field = None if row[0] is None else finish_line(row[0], 1, row[1])
    return field, Raw(row[2].decode(), row[3])


def slow(conv: Conversion, raw: Raw) -> str | None:
    try:
        return conv.field(raw)
    except Reject:
        return None


def same_meaning(kind: Kind, a: str, b: str) -> bool:
    if a == "\\N" or b == "\\N":
        return a == b
    if kind is Kind.FLOAT:
        fa, fb = float(a), float(b)
        return fa == fb and math.copysign(1, fa) == math.copysign(1, fb)
    if kind is Kind.DECIMAL:
        return Decimal(a) == Decimal(b)
    if kind is Kind.TIMESTAMP:
        return datetime.fromisoformat(a.replace("+00", "+00:00")) == datetime.fromisoformat(
            b.replace("+00:00", "+00").replace("+00", "+00:00")
        )
    return a == b


CASES = [
    (Kind.TEXT, "text"),
    (Kind.TEXT, "varchar(5)"),
    (Kind.INTEGER, "bigint"),
    (Kind.INTEGER, "integer"),
    (Kind.FLOAT, "double precision"),
    (Kind.DECIMAL, "numeric(12,2)"),
    (Kind.BOOLEAN, "boolean"),
    (Kind.TIMESTAMP, "timestamptz"),
    (Kind.JSON, "jsonb"),
    (Kind.BYTES, "bytea"),
]


@pytest.mark.parametrize(("kind", "pg_type"), CASES)
@SETTINGS
@given(value=VALUES)
def test_fast_path_agrees_with_reference(
    lite: sqlite3.Connection, kind: Kind, pg_type: str, value: object
) -> None:
    conv = make(kind, pg_type)
    claimed, stored = fast(lite, conv, value)
    if claimed is None:
        return  # the slow path decides; nothing to compare
    reference = slow(conv, stored)
    if kind is Kind.JSON and reference is None:
        return  # objects/arrays go to PostgreSQL's jsonb input, which refuses bad JSON itself
        # (the round-trip tests through PostgreSQL check that such rows are quarantined)
    assert reference is not None, f"fast path accepted {value!r}, reference refuses it"
    assert same_meaning(kind, claimed.decode("utf-8"), reference)


@given(value=st.integers(min_value=0, max_value=10**14 - 1))
@SETTINGS
def test_timestamps_fast_and_slow_agree_on_every_epoch(
    lite: sqlite3.Connection, value: int
) -> None:
    conv = make(Kind.TIMESTAMP, "timestamptz")
    claimed, _ = fast(lite, conv, value)
    assert claimed is not None
    expected = epoch_to_datetime(value)
    assert datetime.fromisoformat(claimed.decode().replace("+00", "+00:00")) == expected


def test_epoch_seconds_and_milliseconds_are_told_apart_per_value() -> None:
    assert epoch_to_datetime(1_700_000_000).isoformat() == "2023-11-14T22:13:20+00:00"
    assert epoch_to_datetime(1_700_000_000_123).isoformat() == "2023-11-14T22:13:20.123000+00:00"
    with pytest.raises(Reject):
        epoch_to_datetime(10**15)


EPOCH_EDGES = st.sampled_from(
    [b + d for limit, _ in EPOCH_UNITS for b in (limit, -limit) for d in (-1, 0, 1)] + [0, 1, -1]
)


@given(value=EPOCH_EDGES | st.integers(-(10**15), 10**15))
@SETTINGS
def test_the_epoch_rule_is_one_rule_in_python_and_sql(lite: sqlite3.Connection, value: int) -> None:
    """EPOCH_UNITS told apart the same way by Python (epoch_scale: the copier's slow path and
    verify's reference) and by the SQL every fast path is built with (epoch_sql)."""
    sql = epoch_sql("x", lambda _, scale: str(scale))
    found = lite.execute(f"SELECT {sql} FROM (SELECT ? AS x)", (value,)).fetchone()[0]
    assert (None if found is None else int(found)) == epoch_scale(value)
    assert epoch_scale(value) == (
        1_000_000 if abs(value) < 10**11 else 1_000 if abs(value) < 10**14 else None
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', '{"a": 1}'),
        ('"{\\"a\\": 1}"', '{"a": 1}'),  # double-encoded object
        ('"\\"[]\\""', "[]"),  # triple-encoded array
        ('"invalid"', '"invalid"'),  # a JSON string scalar stays a string
        ('"123"', '"123"'),  # so does a string holding a number
    ],
)
def test_json_unwrapping(text: str, expected: str) -> None:
    assert unwrap_json(text) == expected


@pytest.mark.parametrize("text", ["", "{broken", "NaN", "[1,"])
def test_invalid_json_is_rejected(text: str) -> None:
    with pytest.raises(Reject):
        unwrap_json(text)


@given(value=VALUES)
def test_raw_values_encode_losslessly(value: object) -> None:
    raw = Raw.of(value)  # type: ignore[arg-type]
    back = decode_raw(encode_raw(raw))
    if raw.kind == "real":
        assert isinstance(back.value, float) and isinstance(raw.value, float)
        assert back.value == raw.value
        assert math.copysign(1, back.value) == math.copysign(1, raw.value)
    else:
        assert back == raw


def test_invalid_utf8_and_nul_are_rejected_with_a_reason() -> None:
    conv = make(Kind.TEXT, "text")
    with pytest.raises(Reject, match="UTF-8"):
        conv.convert(Raw("text", b"a\xffb"))
    with pytest.raises(Reject, match="NUL"):
        conv.convert(Raw("text", b"a\x00b"))


def test_copy_escape() -> None:
    assert copy_escape("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"


@pytest.mark.parametrize(
    ("pg_type", "value", "ok"),
    [
        ("integer", 2**31, False),
        ("integer", 2**31 - 1, True),
        ("bigint", 2**63 - 1, True),
        ("bigint", "42", True),
        ("bigint", "4x", False),
        ("bigint", 3.0, True),
        ("bigint", 3.5, False),
    ],
)
def test_integer_ranges_and_text(pg_type: str, value: object, ok: bool) -> None:
    conv = make(Kind.INTEGER, pg_type)
    if ok:
        assert Decimal(conv.convert(Raw.of(value))) == Decimal(str(value))  # type: ignore[arg-type]
    else:
        with pytest.raises(Reject):
            conv.convert(Raw.of(value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Infinity", "Infinity"),
        ("-inf", "-Infinity"),
        ("NaN", "NaN"),
        (" 1.5 ", "1.5"),
        (-0.0, "-0.0"),
        (9e999, "Infinity"),
    ],
)
def test_float_specials(value: object, expected: str) -> None:
    assert make(Kind.FLOAT, "double precision").convert(Raw.of(value)) == expected  # type: ignore[arg-type]


def test_money_keeps_cents_exactly_and_refuses_more() -> None:
    conv = make(Kind.DECIMAL, "numeric(12,2)")
    assert conv.convert(Raw.of(19.9)) == "19.90"
    with pytest.raises(Reject):
        conv.convert(Raw.of(0.285))
    with pytest.raises(Reject):
        conv.convert(Raw.of("Infinity"))


LINE_TEXTS = (
    st.none()
    | st.text()
    | st.sampled_from(
        [
            "\\N",
            "\\",
            "a\tb",
            "x\ny\rz",
            "\\\\N",
            "\\x41",
            "",
            "\r\n",
            "\\n",
            "tail\\",
            "a\x00b",
            "\x00",
        ]
    )
    | st.sampled_from([b"\xff", b"a\xffb", b"\\\xff", b"\xc3\xa9", b"\xff\xff"])
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(LINE_TEXTS, min_size=1, max_size=4))
def test_finished_lines_read_back_exactly_in_postgres(
    values: list[str | bytes | None], pg_url: str
) -> None:
    """A COPY line as the fast path builds it (SQLite joins the unescaped fields, NULL as the
    byte 0xFF; finish_line escapes backslashes, NULLs, newlines and CRs), COPYed into a real
    PostgreSQL, reads back as the very values: NULL vs '\\N' vs '' vs a 0xFF byte included. A
    line finish_line refuses holds a tab, a NUL or a 0xFF byte in a value (the slow path
    takes the row); a 0xFF byte it passes (no NULL in the row) is refused by PostgreSQL as
    invalid UTF-8, on that line, so the copy rejects that row only."""
    import psycopg

    from vendzz_migrate.source import qi

    cols = [f"c{i}" for i in range(len(values))]
    convs = [make(Kind.TEXT, "text") for _ in cols]
    lite = sqlite3.connect(":memory:")
    lite.text_factory = bytes
    lite.execute(f"CREATE TABLE t ({', '.join(cols)})")
    lite.execute(f"INSERT INTO t VALUES ({', '.join('CAST(? AS TEXT)' for _ in cols)})", values)
    line_expr, nulls_expr = line_sql([(qi(n), c) for c, n in zip(convs, cols, strict=True)])
    line, nulls = lite.execute(f"SELECT {line_expr}, {nulls_expr} FROM t").fetchone()
    assert line is not None and nulls == sum(v is None for v in values)
    raw = [v.encode() if isinstance(v, str) else v for v in values]
    finished = finish_line(line, len(cols), nulls)
    if finished is None:
        assert any(v is not None and (b"\t" in v or b"\x00" in v or b"\xff" in v) for v in raw)
        return
    assert not any(v is not None and (b"\t" in v or b"\x00" in v) for v in raw)
    with psycopg.connect(pg_url) as pg, pg.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE t ({', '.join(c + ' text' for c in cols)})".encode())
        if any(v is not None and b"\xff" in v for v in raw):
            assert nulls == 0
            with (
                pytest.raises(psycopg.errors.CharacterNotInRepertoire),
                cur.copy(b"COPY t FROM STDIN") as copy,
            ):
                copy.write(finished + b"\n")
            return
        with cur.copy(b"COPY t FROM STDIN") as copy:
            copy.write(finished + b"\n")
        back = list(cur.execute(b"SELECT * FROM t").fetchone() or ())
        assert back == [v if v is None else v.decode() for v in raw]
