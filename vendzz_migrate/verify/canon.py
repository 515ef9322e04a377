"""One canonical text per value, computed from SQLite values in Python.

Each PostgreSQL type is reduced to ONE encoding that :mod:`vendzz_migrate.verify.pgcanon`
computes inside PostgreSQL with SQL, so equal meanings give equal bytes on both sides:

  text, integer  the text itself                 float   IEEE-754 bits (float8send hex), 'nan'
  numeric        normalised text (trim_scale)    boolean 'true' / 'false'
  timestamp      epoch microseconds              json    PostgreSQL's own ``jsonb::text``
  bytea          lowercase hex

The SQLite side goes through the copier's *reference* conversions (:meth:`Conversion.convert`,
pure Python) and never through its SQL fast path, so verify is an independent check of it.
A row is hashed as the md5 of its canonical bytes (:func:`row_bytes`), like ``pgcanon.row_sql``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from vendzz_migrate.typemap.convert import EPOCH, Conversion, Kind, OnError, Reject
from vendzz_migrate.typemap.values import Raw

MICRO = timedelta(microseconds=1)
SINGLE_TYPE = re.compile(r"\s*(real|float4)\s*", re.I)
UUID_TYPE = re.compile(r"\s*uuid\s*", re.I)
_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                 "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


# -- per type: the converted PostgreSQL input text -> the canonical text ---------------------


def float_canon(text: str, single: bool = False) -> str:
    """IEEE-754 double bits as hex (what ``float8send`` gives); every NaN is 'nan'."""
    value = float(text)
    if math.isnan(value):
        return "nan"
    if single:
        try:
            value = struct.unpack(">f", struct.pack(">f", value))[0]
        except OverflowError:
            raise Reject(f"{text} is out of range for real") from None
    return struct.pack(">d", value).hex()


def decimal_canon(text: str) -> str:
    """numeric text without trailing zeros (``trim_scale(x)::text``); zero has no sign."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Reject(f"{text[:40]!r} is not a number") from None
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_zero():
        return "0"
    out = format(number, "f")
    return out.rstrip("0").rstrip(".") if "." in out else out


def timestamp_canon(text: str) -> str:
    """Epoch microseconds of a converted timestamp (UTC), exactly."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=EPOCH.tzinfo)
    return str((moment - EPOCH) // MICRO)


def boolean_canon(text: str) -> str:
    return "true" if text == "t" else "false"


def bytes_canon(text: str) -> str:
    return text[2:].lower()


def text_canon(text: str, is_uuid: bool = False) -> str:
    if not is_uuid:
        return text
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise Reject(f"{text[:40]!r} is not a uuid") from None


# -- jsonb::text, reproduced exactly ----------------------------------------------------------


class _Number(str):
    """A JSON number kept as its source text (PostgreSQL parses it as numeric)."""


def _refuse_constant(name: str) -> None:
    raise Reject(f"{name} is not JSON")


def jsonb_canon(text: str) -> str:
    """What PostgreSQL prints for ``text::jsonb::text``: keys ordered by (byte length, bytes),
    the last duplicate key wins, numbers as numeric text, ``", "`` and ``": "`` separators."""
    try:
        value = json.loads(text, parse_float=_Number, parse_int=_Number,
                           parse_constant=_refuse_constant)
    except ValueError:
        raise Reject("invalid JSON") from None
    except RecursionError:
        raise Reject("JSON nested too deeply") from None
    parts: list[str] = []
    _dump(value, parts)
    return "".join(parts)


def _dump(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        keys = sorted(value, key=key_order)
        out.append("{")
        for i, key in enumerate(keys):
            if i:
                out.append(", ")
            out.append(json_string(key))
            out.append(": ")
            _dump(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _dump(item, out)
        out.append("]")
    elif isinstance(value, _Number):
        out.append(json_number(value))
    elif isinstance(value, str):
        out.append(json_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:
        out.append("null")


def key_order(key: str) -> tuple[int, bytes]:
    data = _utf8(key)
    return len(data), data


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Reject("JSON string with a lone surrogate (PostgreSQL refuses it)") from None


def json_number(text: str) -> str:
    """numeric_out of a JSON number: the scale of the text survives, exponents are applied."""
    number = Decimal(text)
    out = format(number, "f")
    return out[1:] if number.is_zero() and out.startswith("-") else out


def json_string(text: str) -> str:
    """A JSON string escaped as PostgreSQL's escape_json does."""
    if "\x00" in text:
        raise Reject("JSON \\u0000 (PostgreSQL jsonb cannot hold it)")
    _utf8(text)
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _JSON_ESCAPES.get(char) or f"\\u{ord(char):04x}"


# -- per column and per row ----------------------------------------------------------------

Canon = Callable[[Raw], "str | None"]


def finisher(kind: Kind, pg_type: str) -> Callable[[str], str]:
    """From the converted PostgreSQL input text to the canonical text, for one column."""
    if kind is Kind.FLOAT:
        single = bool(SINGLE_TYPE.fullmatch(pg_type))
        return lambda text: float_canon(text, single)
    if kind is Kind.TEXT and UUID_TYPE.fullmatch(pg_type):
        return lambda text: text_canon(text, True)
    table: dict[Kind, Callable[[str], str]] = {
        Kind.TEXT: text_canon, Kind.INTEGER: str, Kind.DECIMAL: decimal_canon,
        Kind.BOOLEAN: boolean_canon, Kind.TIMESTAMP: timestamp_canon, Kind.JSON: jsonb_canon,
        Kind.BYTES: bytes_canon,
    }
    return table[kind]


def column_canon(conv: Conversion) -> Canon:
    """The canonical value of one SQLite value of this column (None for NULL); raises Reject
    when the copier would have rejected the row, and applies on_error: null / wrap."""
    finish = finisher(conv.kind, conv.pg_type)
    not_null, policy = conv.not_null, conv.on_error

    def canon(raw: Raw) -> str | None:
        if raw.value is None:
            if not_null:
                raise Reject("NULL in a NOT NULL column")
            return None
        try:
            text = conv.convert(raw)
        except Reject:
            if policy is OnError.NULL:
                return None
            if policy is OnError.WRAP and raw.kind == "text":
                return json_string(_wrapped(raw))
            raise
        return finish(text)

    return canon


def _wrapped(raw: Raw) -> str:
    assert isinstance(raw.value, bytes)
    try:
        return raw.value.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("invalid UTF-8 (cannot be wrapped as a JSON string)") from None


VALUE = b"\xff"  # before each value's canonical bytes in a row
NULL = b"\xfe"  # a NULL in a row


def row_bytes(values: list[bytes | None]) -> bytes:
    """The row's canonical bytes (as ``pgcanon.row_sql``): per column, byte 0xFF then the
    value's canonical UTF-8 bytes, or byte 0xFE for NULL. Neither byte occurs in UTF-8, so
    the bytes split back into exactly one sequence of values: equal bytes, equal rows."""
    return b"".join([NULL if v is None else VALUE + v for v in values])


def hash64(data: bytes) -> int:
    """First 8 bytes of md5 as a signed integer (PostgreSQL: ``('x'||left(md5(r),16))::bit(64)
    ::bigint``)."""
    return int.from_bytes(hashlib.md5(data).digest()[:8], "big", signed=True)


def hash128(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
