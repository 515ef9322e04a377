"""Reverse conversions: a PostgreSQL value back into the SQLite encoding its column used.

The rollback (``cutover --rollback``) carries rows written on PostgreSQL back into the SQLite
file, which the SQLite service must read exactly as it wrote them: a timestamp column that held
epoch milliseconds gets epoch milliseconds again, ISO text gets ISO text of the same shape, jsonb
becomes JSON text (double-encoded again where the column was), booleans 0/1, and so on.

An :class:`Encoding` says how one SQLite value is written (storage class plus, for timestamps,
JSON and booleans, its form). :func:`encoding_of` reads it off a value, :func:`column_encoding`
finds a column's dominant one (among its most recent rows), :func:`reverse` writes a PostgreSQL
value in an encoding, and :func:`back` does what the rollback needs for one cell: it keeps the
old SQLite value when it still means the PostgreSQL value, else writes the new value in the old
value's encoding (or the column's), and checks that the forward conversion reads it back to the
same canonical value (verify's canonical form). A value that cannot come back unchanged raises
:class:`Unfit` (e.g. a timestamp with microseconds in an epoch-seconds column, a timestamp before
1973 in an epoch-milliseconds column, which the forward rule would read as seconds).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from vendzz_migrate.typemap.convert import (
    EPOCH,
    MS_LIMIT,
    SECONDS_LIMIT,
    Conversion,
    Kind,
    Reject,
    float_text,
)
from vendzz_migrate.typemap.values import Raw

PgValue = str | int | float | Decimal | bool | datetime | date | bytes | None
SAMPLE_ROWS = 500  # a column's encoding is the dominant one among its last rows written
_TIME_TEXT = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:(?P<sep>[T ])(?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,6}))?(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH_TEXT = re.compile(r"[+-]?\d+")
_INT_CANON = re.compile(r"-?(0|[1-9]\d{0,18})")
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[^"]+', re.S)
_FORMED = (Kind.TIMESTAMP, Kind.JSON, Kind.BOOLEAN)  # kinds whose encodings are not swapped
_BOOL_FORMS = {
    "1": ("1", "0"),
    "true": ("true", "false"),
    "t": ("t", "f"),
    "TRUE": ("TRUE", "FALSE"),
    "True": ("True", "False"),
}


class Unfit(Exception):
    """A PostgreSQL value that the column's SQLite encoding cannot hold unchanged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a SQLite value is written: its storage class and, where it matters, its form.

    Forms: timestamps ``s`` / ``ms`` (epoch, in integer, real or text storage) or a text shape
    ``<sep><fraction digits><zone>`` (``T3Z`` is JavaScript's toISOString, `` 0`` SQLite's
    CURRENT_TIMESTAMP, ``date`` a date alone); JSON the number of extra encodings (``1`` for a
    double-encoded value) or ``raw`` (invalid JSON kept as a string by ``on_error: wrap``);
    booleans in text their spelling (``true``, ``t``, ``1``...)."""

    storage: str  # integer | real | text | blob
    form: str = ""

    def __str__(self) -> str:
        return f"{self.storage}:{self.form}" if self.form else self.storage

    @classmethod
    def parse(cls, text: str) -> Encoding:
        storage, _, form = text.partition(":")
        return cls(storage, form)


# -- the encoding of SQLite values -------------------------------------------------------------


def encoding_of(kind: Kind, raw: Raw) -> Encoding | None:
    """The encoding of one SQLite value of a column converted as ``kind`` (None for NULL)."""
    if raw.kind == "null":
        return None
    if kind is Kind.TIMESTAMP:
        return _time_encoding(raw)
    if kind is Kind.JSON and raw.kind == "text":
        return Encoding("text", _json_form(raw))
    if kind is Kind.BOOLEAN and raw.kind == "text":
        assert isinstance(raw.value, bytes)
        word = raw.value.decode("utf-8", "replace").strip()
        form = next((k for k, pair in _BOOL_FORMS.items() if word in pair), "1")
        return Encoding("text", form)
    return Encoding(raw.kind)


def _time_encoding(raw: Raw) -> Encoding:
    if raw.kind in ("integer", "real"):
        assert isinstance(raw.value, int | float)
        return Encoding(raw.kind, "s" if abs(raw.value) < SECONDS_LIMIT else "ms")
    assert isinstance(raw.value, bytes)
    text = raw.value.decode("utf-8", "replace").strip()
    if _EPOCH_TEXT.fullmatch(text):
        return Encoding("text", "s" if abs(int(text)) < SECONDS_LIMIT else "ms")
    match = _TIME_TEXT.fullmatch(text)
    if match is None:
        return Encoding("text", "T3Z")
    if match["sep"] is None:
        return Encoding("text", "date")
    return Encoding("text", f"{match['sep']}{len(match['frac'] or '')}{match['zone'] or ''}")


def _json_form(raw: Raw) -> str:
    assert isinstance(raw.value, bytes)
    if raw.value[:1] in (b"{", b"["):
        return "0"  # an object or array as it is (whether valid or not: PostgreSQL decides)
    try:
        value = json.loads(raw.value.decode("utf-8"))
    except ValueError:
        return "raw"
    depth = 0
    while isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            break
        if not isinstance(inner, dict | list | str):
            break
        depth, value = depth + 1, inner
    return str(depth) if isinstance(value, dict | list) else "0"


def dominant(kind: Kind, values: Iterable[Raw]) -> Encoding | None:
    """The most frequent encoding among ``values`` (None when all are NULL)."""
    counts = Counter(e for e in (encoding_of(kind, v) for v in values) if e is not None)
    return counts.most_common(1)[0][0] if counts else None


def default_encoding(kind: Kind, declared: str = "") -> Encoding:
    """A column's encoding when it holds no value yet: from its declared SQLite type."""
    decl = declared.upper()
    if kind is Kind.TIMESTAMP:
        if "INT" in decl:
            return Encoding("integer", "s")
        if "DATE" in decl or decl.startswith("NUM"):
            return Encoding("text", " 0")
        return (
            Encoding("text", "T3Z")
            if "CHAR" in decl or "TEXT" in decl
            else Encoding("integer", "s")
        )
    return {
        Kind.TEXT: Encoding("text"),
        Kind.INTEGER: Encoding("integer"),
        Kind.FLOAT: Encoding("real"),
        Kind.DECIMAL: Encoding("real"),
        Kind.BOOLEAN: Encoding("integer"),
        Kind.JSON: Encoding("text", "0"),
        Kind.BYTES: Encoding("blob"),
    }[kind]


def column_encoding(
    conn: sqlite3.Connection,
    table: str,
    column: str,
    kind: Kind,
    declared: str = "",
    sample: int = SAMPLE_ROWS,
) -> Encoding:
    """The dominant encoding of a SQLite column among its last ``sample`` non-NULL values
    (by rowid when the table has one), else the one its declared type suggests."""
    t, c = _quote(table), _quote(column)
    base = f"SELECT typeof({c}), CAST({c} AS BLOB) FROM {t} WHERE {c} IS NOT NULL"
    try:
        rows = conn.execute(f"{base} ORDER BY rowid DESC LIMIT {int(sample)}").fetchall()
    except sqlite3.OperationalError:  # WITHOUT ROWID
        rows = conn.execute(f"{base} LIMIT {int(sample)}").fetchall()
    raws = [_raw(storage, value) for storage, value in rows]
    return dominant(kind, raws) or default_encoding(kind, declared)


def _raw(storage: Any, value: Any) -> Raw:
    storage = storage.decode() if isinstance(storage, bytes) else str(storage)
    if storage in ("integer", "real"):
        number = bytes(value).decode() if isinstance(value, bytes | memoryview) else value
        return Raw(storage, int(number) if storage == "integer" else float(number))
    return Raw(storage, bytes(value))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- PostgreSQL value -> SQLite value -----------------------------------------------------------


def reverse(conv: Conversion, value: PgValue, enc: Encoding) -> Raw:
    """``value`` (as psycopg reads it; jsonb as its text) written in encoding ``enc``.
    Raises :class:`Unfit` when the encoding cannot express it."""
    if value is None:
        return Raw("null", None)
    kind = conv.kind
    if kind is Kind.TEXT and not isinstance(value, str):
        value = str(value)  # uuid, citext...
    if kind is Kind.TIMESTAMP:
        return _reverse_time(_moment(value), enc)
    if kind is Kind.JSON:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return _reverse_json(text, enc)
    if kind is Kind.BOOLEAN:
        assert isinstance(value, bool)
        if enc.storage == "text":
            yes, no = _BOOL_FORMS.get(enc.form, ("1", "0"))
            return Raw.of(yes if value else no)
        return Raw("integer", int(value))
    if kind is Kind.BYTES:
        assert isinstance(value, bytes | memoryview)
        return _reverse_bytes(bytes(value), enc)
    return _reverse_scalar(value, enc)


def _reverse_scalar(value: PgValue, enc: Encoding) -> Raw:
    """text, integer, float and decimal: a number stays a number (integer when integral and
    the column held integers, else real), text stays text."""
    if isinstance(value, str):
        if enc.storage == "integer" and _INT_CANON.fullmatch(value):
            return Raw("integer", int(value))
        return Raw.of(value)
    assert isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if enc.storage == "text":
        return Raw.of(_number_text(value))
    if isinstance(value, float | Decimal) and math.isnan(value):
        return Raw.of("NaN")  # SQLite stores a NaN real as NULL
    if enc.storage == "integer" and _integral(value) and -(2**63) <= int(value) < 2**63:
        return Raw("integer", int(value))
    if isinstance(value, int) and enc.storage != "real":
        return Raw("integer", value)
    return Raw("real", float(value))


def _integral(value: int | float | Decimal) -> bool:
    if isinstance(value, int):
        return True
    return math.isfinite(value) and value == int(value)


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    return str(value) if isinstance(value, int) else format(value, "f")


def _moment(value: PgValue) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise Unfit(f"{value!r} is not a timestamp")


def _reverse_time(moment: datetime, enc: Encoding) -> Raw:
    if enc.form in ("s", "ms"):
        micros = (moment - EPOCH) // timedelta(microseconds=1)
        unit = 1_000_000 if enc.form == "s" else 1_000
        if enc.storage == "real":
            return Raw("real", micros / unit)
        if micros % unit:
            raise Unfit(f"{moment.isoformat()} has more precision than epoch {enc.form}")
        number = micros // unit
        limit = SECONDS_LIMIT if enc.form == "s" else MS_LIMIT
        if not (enc.form == "s" or abs(number) >= SECONDS_LIMIT) or abs(number) >= limit:
            raise Unfit(
                f"{moment.isoformat()} in epoch {enc.form} would be read back as "
                f"{'seconds' if enc.form == 'ms' else 'milliseconds'}"
            )
        return Raw.of(str(number)) if enc.storage == "text" else Raw("integer", number)
    return Raw.of(_time_text(moment, enc.form or "T3Z"))


def _time_text(moment: datetime, form: str) -> str:
    if form == "date":
        if moment.time() != datetime.min.time():
            raise Unfit(f"{moment.isoformat()} has a time of day that a date column cannot hold")
        return moment.date().isoformat()
    match = re.fullmatch(r"(?P<sep>[T ])(?P<digits>\d)(?P<zone>.*)", form)
    if match is None:
        raise Unfit(f"unknown timestamp form {form!r}")
    digits, zone = int(match["digits"]), match["zone"]
    local = moment.astimezone(_zone(zone)) if zone not in ("", "Z") else moment
    micros = local.microsecond
    if digits < 6 and micros % 10 ** (6 - digits):
        raise Unfit(f"{moment.isoformat()} has more precision than {digits} fraction digits")
    text = local.strftime(f"%Y-%m-%d{match['sep']}%H:%M:%S")
    if digits:
        text += "." + f"{micros:06d}"[:digits]
    return text + zone


def _zone(zone: str) -> timezone:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def compact_json(text: str) -> str:
    """jsonb's text (``{"a": 1, "b": [1, 2]}``) without the whitespace between tokens, as
    JavaScript's JSON.stringify writes it; strings and numbers are kept byte for byte."""
    return "".join(
        tok if tok.startswith('"') else "".join(tok.split()) for tok in _JSON_TOKENS.findall(text)
    )


def _reverse_json(text: str, enc: Encoding) -> Raw:
    out = compact_json(text)
    if enc.form == "raw":
        value = json.loads(out)
        if isinstance(value, str) and not _is_json(value):
            return Raw.of(value)  # wrapped by on_error: wrap; the raw text comes back
        return Raw.of(out)
    depth = int(enc.form) if enc.form.isdigit() else 0
    if depth and out[:1] in ("{", "["):
        for _ in range(depth):
            out = json.dumps(out, ensure_ascii=False)
    return Raw.of(out)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _reverse_bytes(data: bytes, enc: Encoding) -> Raw:
    if enc.storage == "text":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Raw("blob", data)
        if "\x00" not in text:
            return Raw("text", data)
    return Raw("blob", data)


# -- canonical values and the rollback's cell rule ---------------------------------------------


def pg_text(value: PgValue) -> str:
    """A PostgreSQL value (as psycopg reads it) as the PostgreSQL text the forward conversion
    would have produced for it."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return _moment(value).isoformat(sep=" ")
    if isinstance(value, bytes | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal):
        return _number_text(value)
    assert value is not None
    return str(value)


def pg_canon(conv: Conversion, value: PgValue) -> str | None:
    """verify's canonical text of a PostgreSQL value of this column (None for NULL)."""
    if value is None:
        return None
    return conv.canon(pg_text(value))


def sqlite_canon(conv: Conversion, raw: Raw) -> str | None:
    """verify's canonical text of a SQLite value (what the forward conversion makes of it);
    raises Reject when the copier would refuse it."""
    from vendzz_migrate.verify.canon import column_canon

    return column_canon(conv)(raw)


class Reverser:
    """The rollback's rule for the cells of one column (canonical functions built once)."""

    def __init__(self, conv: Conversion, column: Encoding) -> None:
        from vendzz_migrate.verify.canon import column_canon

        self.conv, self.column = conv, column
        self._finish = conv.canon
        self._canon = column_canon(conv)
        self._candidates = [column]
        if conv.kind not in _FORMED:  # a number or text may change storage class and still fit
            self._candidates.append(default_encoding(conv.kind))
        if conv.kind in (Kind.FLOAT, Kind.DECIMAL):
            self._candidates += [Encoding("integer"), Encoding("text")]  # beyond a double

    def pg_canon(self, value: PgValue) -> str | None:
        """verify's canonical text of a PostgreSQL value of this column."""
        return None if value is None else self._finish(pg_text(value))

    def canon(self, raw: Raw) -> str | None:
        """verify's canonical text of a SQLite value of this column (Reject: the copy would
        have refused it)."""
        return self._canon(raw)

    def same(self, raw: Raw, want: str | None) -> bool:
        try:
            return self._canon(raw) == want
        except Reject:
            return False

    def back(self, value: PgValue, old: Raw | None) -> Raw:
        """The SQLite value for one cell of a row carried back: the old value when it still
        means ``value``, else ``value`` in the old value's encoding (or the column's) that the
        forward conversion reads back to the same canonical value; else :class:`Unfit`.

        Fast path (no canonical forms computed): the value written in the old value's
        encoding is the old value byte for byte, or the row is new and the reverse conversion
        is exact by construction for this kind (see :func:`exact`)."""
        if value is None and (old is None or old.kind == "null"):
            return old or Raw("null", None)
        if value is not None:
            enc = (encoding_of(self.conv.kind, old) if old is not None else None) or self.column
            try:
                raw = reverse(self.conv, value, enc)
            except Unfit:
                raw = None
            if raw is not None and (raw == old or (old is None and exact(self.conv.kind, raw))):
                return old if old is not None else raw
        return self._checked(value, old)

    def _checked(self, value: PgValue, old: Raw | None) -> Raw:
        want = self.pg_canon(value)
        if old is not None and self.same(old, want):
            return old
        if value is None:
            return Raw("null", None)
        enc = encoding_of(self.conv.kind, old) if old is not None else None
        tried: list[str] = []
        for candidate in dict.fromkeys([enc or self.column, *self._candidates]):
            try:
                raw = reverse(self.conv, value, candidate)
            except Unfit as exc:
                tried.append(exc.reason)
                continue
            if self.same(raw, want):
                return raw
            tried.append(f"{_show(raw)} in {candidate} reads back as a different value")
        raise Unfit("; ".join(dict.fromkeys(tried)))


def exact(kind: Kind, raw: Raw) -> bool:
    """Whether the forward conversion reads a reverse-converted value back to the very value it
    came from without needing a check: text and integers as they are, 0/1, blobs, epoch
    integers (their range and precision checked by the reverse conversion), and JSON objects
    and arrays written compact (the forward rule only ever unwraps strings). The property tests
    check these against the canonical forms."""
    if kind in (Kind.TEXT, Kind.BOOLEAN):
        return raw.kind in ("text", "integer")
    if kind in (Kind.INTEGER, Kind.TIMESTAMP):
        return raw.kind == "integer"
    if kind is Kind.BYTES:
        return raw.kind == "blob"
    if kind is Kind.JSON:
        return raw.kind == "text" and isinstance(raw.value, bytes) and raw.value[:1] in (b"{", b"[")
    return False


def back(conv: Conversion, value: PgValue, old: Raw | None, column: Encoding) -> Raw:
    """:meth:`Reverser.back` for one cell (tests, one-off callers)."""
    return Reverser(conv, column).back(value, old)


def _show(raw: Raw) -> str:
    value = raw.value.decode("utf-8", "replace") if isinstance(raw.value, bytes) else raw.value
    return f"{raw.kind} {str(value)[:40]!r}"


def sqlite_value(raw: Raw) -> int | float | str | bytes | None:
    """The Python value to bind so that SQLite stores ``raw`` with its storage class."""
    if raw.kind == "text":
        assert isinstance(raw.value, bytes)
        return raw.value.decode("utf-8", "surrogateescape")
    return raw.value
