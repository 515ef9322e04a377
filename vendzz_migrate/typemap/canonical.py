"""verify's canonical texts: one encoding per PostgreSQL type, equal bytes for equal meanings.

Each conversion (:mod:`vendzz_migrate.typemap.conversions`) names its canonical form with these
functions (``Conversion.canon``: the reference), and the same form as PostgreSQL SQL
(``Conversion.pg_canon_sql``):

  text, integer  the text itself                 float   IEEE-754 bits (float8send hex), 'nan'
  numeric        normalised text (trim_scale)    boolean 'true' / 'false'
  timestamp      epoch microseconds              json    PostgreSQL's own ``jsonb::text``
  bytea          lowercase hex

Each takes the PostgreSQL input text that the conversion produced; :func:`jsonb_canon` is the
reference of jsonb's text, and :func:`jsonb_fast` its one fast tier (the C extension, straight
from the bytes, when it was built).
"""

from __future__ import annotations

import json
import math
import re
import struct
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from vendzz_migrate.typemap.values import Raw, Reject

try:  # built at install time when a C compiler is there (setup.py: optional)
    from vendzz_migrate import _speed
except ImportError:  # the same results without it: every document takes the reference
    _speed = None  # type: ignore[assignment]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
MIN_MICROS = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // MICRO  # PostgreSQL's and Python's
MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // MICRO
SINGLE_TYPE = re.compile(r"\s*(real|float4)\s*", re.I)
UUID_TYPE = re.compile(r"\s*uuid\s*", re.I)
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


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


def double_bits(kind: bytes, value: Any) -> bytes | None:
    """:func:`float_canon` of a double precision value as read (``typeof()``, value); None for
    NaN, integers beyond 2**53 and any text (the reference decides)."""
    if kind == b"real" and value == value:  # noqa: PLR0124 - NaN takes the reference path
        return struct.pack(">d", value).hex().encode()
    if kind == b"integer" and abs(value) <= 2**53:
        return struct.pack(">d", float(value)).hex().encode()
    return None


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
        moment = moment.replace(tzinfo=UTC)
    return str((moment - EPOCH) // MICRO)


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
        value = json.loads(
            text, parse_float=_Number, parse_int=_Number, parse_constant=_refuse_constant
        )
    except ValueError:
        raise Reject("invalid JSON") from None
    except RecursionError:
        raise Reject("JSON nested too deeply") from None
    parts: list[str] = []
    _dump(value, parts)
    return "".join(parts)


def jsonb_fast(kind: bytes, value: Any) -> bytes | None:
    """jsonb's text of a JSON object or array as read, by the C extension (``_speed.c``:
    ``json_text``) straight from the bytes; None when it is unsure (floats, exponents,
    double-encoded documents, ``\\u0000``...) or not built: the reference decides."""
    if kind != b"text" or _speed is None:
        return None
    return _speed.json_text(value)


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


def wrapped_json(raw: Raw) -> str:
    """A text value kept as a JSON string (``on_error: wrap``), canonical."""
    assert isinstance(raw.value, bytes)
    try:
        return json_string(raw.value.decode("utf-8"))
    except UnicodeDecodeError:
        raise Reject("invalid UTF-8 (cannot be wrapped as a JSON string)") from None
