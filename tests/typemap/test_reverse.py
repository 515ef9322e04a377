"""Reverse conversions against the real PostgreSQL: SQLite -> PostgreSQL -> SQLite is the
identity on canonical values, in the encoding the column used, for every conversion kind; a
value written on PostgreSQL comes back in the column's encoding; what cannot, is Unfit."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendzz_migrate.typemap.convert import Conversion, Kind, compact_json, make
from vendzz_migrate.typemap.reverse import (
    Encoding,
    PgValue,
    Unfit,
    back,
    column_encoding,
    sqlite_value,
)
from vendzz_migrate.typemap.values import Raw

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LOW, HIGH = datetime(1974, 1, 1, tzinfo=UTC), datetime(5000, 1, 1, tzinfo=UTC)
MOMENTS = st.datetimes(min_value=LOW.replace(tzinfo=None), max_value=HIGH.replace(tzinfo=None))
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
)
JSON_DOC = st.recursive(
    JSON_LEAF,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5),
            kids,
            max_size=4,
        )
    ),
    max_leaves=12,
)
JSON_COMPOUND = st.lists(JSON_DOC, max_size=4) | st.dictionaries(
    st.text(max_size=5).filter(
        lambda k: "\x00" not in k and not any(0xD800 <= ord(c) <= 0xDFFF for c in k)
    ),
    JSON_DOC,
    max_size=4,
)
STAMP = make(Kind.TIMESTAMP, "timestamptz")
TEXTS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))


@pytest.fixture(scope="module")
def pg(pg_server_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


def on_pg(pg: psycopg.Connection[Any], conv: Conversion, text: str) -> PgValue:
    """What PostgreSQL stores for the forward conversion's text, read back as the rollback
    reads it (jsonb as its text)."""
    cast = "jsonb::text" if conv.kind is Kind.JSON else conv.pg_type
    row = pg.execute(f"SELECT %s::{cast}".encode(), (text,)).fetchone()
    assert row is not None
    value: PgValue = row[0]
    return value


def through_sqlite(raw: Raw) -> Raw:
    """``raw`` as SQLite really stores it when the rollback binds it."""
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes
    conn.execute("CREATE TABLE v (x)")
    conn.execute("INSERT INTO v VALUES (?)", (sqlite_value(raw),))
    kind, value = conn.execute("SELECT typeof(x), x FROM v").fetchone()
    return Raw(kind.decode(), value)


def round_trip(pg: psycopg.Connection[Any], conv: Conversion, raw: Raw) -> Raw:
    value = on_pg(pg, conv, conv.convert(raw))
    enc = conv.encoding_of(raw)
    assert enc is not None
    out = through_sqlite(conv.reverse(value, enc))
    assert conv.encoding_of(out) == enc
    assert conv.source_canon()(out) == conv.source_canon()(raw) == conv.pg_canon(value)
    assert back(conv, value, None, enc) == conv.reverse(value, enc)
    assert back(conv, value, raw, Encoding("text", "T3Z")) is raw  # unchanged: kept as it was
    return out


def iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- SQLite -> PostgreSQL -> SQLite: the identity, per kind and encoding -------------------------


@SETTINGS
@given(st.integers(0, 99_999_999_999) | st.integers(-(10**10), 0))
def test_epoch_seconds(pg: psycopg.Connection[Any], seconds: int) -> None:
    raw = Raw("integer", seconds)
    assert round_trip(pg, make(Kind.TIMESTAMP, "timestamptz"), raw) == raw


@SETTINGS
@given(st.integers(100_000_000_000, 99_999_999_999_999))
def test_epoch_milliseconds(pg: psycopg.Connection[Any], millis: int) -> None:
    raw = Raw("integer", millis)
    assert round_trip(pg, make(Kind.TIMESTAMP, "timestamptz"), raw) == raw


@SETTINGS
@given(MOMENTS, st.sampled_from(["T3Z", " 0", "T0Z", " 3", "T6+00:00", "date"]))
def test_timestamp_texts(pg: psycopg.Connection[Any], moment: datetime, form: str) -> None:
    moment = moment.replace(tzinfo=UTC)
    text = {
        "T3Z": iso_z(moment),
        " 0": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "T0Z": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        " 3": moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}",
        "T6+00:00": moment.isoformat(timespec="microseconds"),
        "date": moment.date().isoformat(),
    }[form]
    raw = Raw.of(text)
    assert make(Kind.TIMESTAMP, "timestamptz").encoding_of(raw) == Encoding("text", form)
    assert round_trip(pg, make(Kind.TIMESTAMP, "timestamptz"), raw) == raw


@SETTINGS
@given(st.integers(-(2**63), 2**63 - 1), st.sampled_from(["bigint", "integer"]))
def test_integers(pg: psycopg.Connection[Any], number: int, pg_type: str) -> None:
    conv = make(Kind.INTEGER, pg_type)
    if pg_type == "integer":
        number = number % 2**31
    raw = Raw("integer", number)
    assert round_trip(pg, conv, raw) == raw


@SETTINGS
@given(st.floats(allow_nan=False).filter(lambda f: f != 0 or str(f) == "0.0"))
def test_floats(pg: psycopg.Connection[Any], number: float) -> None:
    raw = Raw("real", number)
    assert round_trip(pg, make(Kind.FLOAT, "double precision"), raw) == raw


@SETTINGS
@given(st.integers(-(10**12), 10**12))
def test_money_as_real(pg: psycopg.Connection[Any], cents: int) -> None:
    raw = Raw("real", float(Decimal(cents) / 100))
    assert round_trip(pg, make(Kind.DECIMAL, "numeric(16,2)"), raw) == raw


@SETTINGS
@given(st.integers(-(10**12), 10**12))
def test_decimal_as_integer_and_text(pg: psycopg.Connection[Any], number: int) -> None:
    conv = make(Kind.DECIMAL, "numeric")
    for raw in (Raw("integer", number), Raw.of(str(Decimal(number) / 1000))):
        out = round_trip(pg, conv, raw)
        assert out.kind == raw.kind


@SETTINGS
@given(st.booleans(), st.sampled_from(["integer", "true", "t"]))
def test_booleans(pg: psycopg.Connection[Any], flag: bool, form: str) -> None:
    raw = (
        Raw("integer", int(flag))
        if form == "integer"
        else Raw.of({"true": ("true", "false"), "t": ("t", "f")}[form][not flag])
    )
    assert round_trip(pg, make(Kind.BOOLEAN, "boolean"), raw) == raw


@SETTINGS
@given(TEXTS, st.sampled_from(["text", "varchar(400)"]))
def test_texts(pg: psycopg.Connection[Any], text: str, pg_type: str) -> None:
    raw = Raw.of(text)
    assert round_trip(pg, make(Kind.TEXT, pg_type), raw) == raw


@SETTINGS
@given(st.integers(-(2**63), 2**63 - 1))
def test_integer_in_a_text_column(pg: psycopg.Connection[Any], number: int) -> None:
    raw = Raw("integer", number)  # TEXT affinity keeps it text, a column without one does not
    assert round_trip(pg, make(Kind.TEXT, "text"), raw) == raw


@SETTINGS
@given(st.binary(max_size=64))
def test_bytes(pg: psycopg.Connection[Any], data: bytes) -> None:
    raw = Raw("blob", data)
    assert round_trip(pg, make(Kind.BYTES, "bytea"), raw) == raw


@SETTINGS
@given(JSON_COMPOUND, st.integers(0, 2))
def test_json_compact_and_double_encoded(pg: psycopg.Connection[Any], doc: Any, depth: int) -> None:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for _ in range(depth):
        text = json.dumps(text, ensure_ascii=False)
    raw = Raw.of(text)
    conv = make(Kind.JSON, "jsonb")
    out = round_trip(pg, conv, raw)
    assert make(Kind.JSON, "jsonb").encoding_of(out) == Encoding("text", str(depth))
    assert json.loads(_unwrapped(out, depth)) == json.loads(_unwrapped(raw, depth))


def _unwrapped(raw: Raw, depth: int) -> str:
    assert isinstance(raw.value, bytes)
    text = raw.value.decode()
    for _ in range(depth):
        text = json.loads(text)
    return text


@SETTINGS
@given(JSON_LEAF)
def test_json_scalars(pg: psycopg.Connection[Any], leaf: Any) -> None:
    raw = Raw.of(json.dumps(leaf, ensure_ascii=False))
    round_trip(pg, make(Kind.JSON, "jsonb"), raw)


def test_json_numbers_are_kept_digit_for_digit(pg: psycopg.Connection[Any]) -> None:
    conv = make(Kind.JSON, "jsonb")
    raw = Raw.of('{"price":12.50,"big":123456789012345678901234567890.1,"e":1e400}')
    value = on_pg(pg, conv, conv.convert(raw))
    out = conv.reverse(value, Encoding("text", "0"))
    assert conv.source_canon()(out) == conv.source_canon()(raw)
    assert b"123456789012345678901234567890.1" in out.value  # type: ignore[operator]


def test_compact_json_keeps_strings() -> None:
    assert compact_json('{"a b": "c : d, e", "f": [1, 2]}') == '{"a b":"c : d, e","f":[1,2]}'


# -- PostgreSQL-era values -> the column's encoding ----------------------------------------------


@SETTINGS
@given(
    MOMENTS,
    st.sampled_from(
        [
            Encoding("integer", "ms"),
            Encoding("text", "T3Z"),
            Encoding("text", " 3"),
            Encoding("real", "s"),
        ]
    ),
)
def test_new_timestamps_take_the_column_encoding(
    pg: psycopg.Connection[Any], moment: datetime, enc: Encoding
) -> None:
    moment = moment.replace(tzinfo=UTC, microsecond=moment.microsecond // 1000 * 1000)
    if enc.storage == "real":
        moment = moment.replace(microsecond=0)
    conv = make(Kind.TIMESTAMP, "timestamptz")
    value = on_pg(pg, conv, moment.isoformat())
    out = through_sqlite(back(conv, value, None, enc))
    assert make(Kind.TIMESTAMP, "timestamptz").encoding_of(out) == enc
    assert conv.source_canon()(out) == conv.pg_canon(value)


def test_unfit_timestamps_are_refused() -> None:
    conv = make(Kind.TIMESTAMP, "timestamptz")
    micro = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    with pytest.raises(Unfit, match="precision"):
        back(conv, micro, None, Encoding("integer", "s"))
    with pytest.raises(Unfit, match="precision"):
        back(conv, micro, None, Encoding("text", " 0"))
    early = datetime(1972, 1, 1, tzinfo=UTC)  # in ms it is < 1e11: forward reads seconds
    with pytest.raises(Unfit, match="seconds"):
        back(conv, early, None, Encoding("integer", "ms"))
    with pytest.raises(Unfit, match="time of day"):
        back(conv, micro, None, Encoding("text", "date"))
    # the old value's own encoding first: an ms row stays ms in a column mostly in seconds
    exact = datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    old = Raw("integer", 1_700_000_000_000)
    assert back(conv, exact, old, Encoding("integer", "s")) == Raw("integer", 1767323045250)


def test_numbers_fall_back_to_a_storage_that_holds_them() -> None:
    conv = make(Kind.INTEGER, "bigint")
    assert back(conv, 2**60 + 1, None, Encoding("real")) == Raw("integer", 2**60 + 1)
    dec = make(Kind.DECIMAL, "numeric")
    value = Decimal("0.1234567890123456789")
    assert back(dec, value, None, Encoding("real")) == Raw.of("0.1234567890123456789")


def test_changed_values_keep_the_old_values_form(pg: psycopg.Connection[Any]) -> None:
    conv = make(Kind.JSON, "jsonb")
    old = Raw.of(json.dumps(json.dumps({"a": 1})))  # double-encoded
    new = back(conv, on_pg(pg, conv, '{"a": 2}'), old, Encoding("text", "0"))
    assert new == Raw.of(json.dumps('{"a":2}'))
    flag = make(Kind.BOOLEAN, "boolean")
    assert back(flag, False, Raw.of("true"), Encoding("integer")) == Raw.of("false")


def test_column_encoding_is_the_dominant_among_recent_rows() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, "createdAt" INTEGER, at TEXT, j TEXT)')
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(30):
        moment = base + timedelta(days=i)
        conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            (
                i,
                int(moment.timestamp() * (1000 if i > 10 else 1)),
                iso_z(moment),
                json.dumps(json.dumps([i])),
            ),
        )
    assert column_encoding(conn, "t", "createdAt", STAMP) == Encoding("integer", "ms")
    assert column_encoding(conn, "t", "at", STAMP) == Encoding("text", "T3Z")
    assert column_encoding(conn, "t", "j", make(Kind.JSON, "jsonb")) == Encoding("text", "1")
    conn.execute("DELETE FROM t")
    assert column_encoding(conn, "t", "at", STAMP, "DATETIME") == Encoding("text", " 0")
    assert Encoding.parse(str(Encoding("text", "T3Z"))) == Encoding("text", "T3Z")


# the round trip of each kind above: a kind added without one fails here
ROUND_TRIPS = {
    Kind.TIMESTAMP: test_epoch_milliseconds,
    Kind.INTEGER: test_integers,
    Kind.FLOAT: test_floats,
    Kind.DECIMAL: test_decimal_as_integer_and_text,
    Kind.BOOLEAN: test_booleans,
    Kind.TEXT: test_texts,
    Kind.BYTES: test_bytes,
    Kind.JSON: test_json_compact_and_double_encoded,
}


def test_every_kind_has_a_round_trip() -> None:
    assert set(ROUND_TRIPS) == set(Kind)
