"""Fast paths of the canonical encoding, for the values that make up almost every row.

Each function takes a SQLite value as read (``typeof()`` as bytes, the value) and returns its
canonical UTF-8 bytes, or ``None`` when the value is not in its simple form; the caller then
takes the reference path (:func:`vendzz_migrate.verify.canon.column_canon`). Their results are
the same by construction, and the property tests hold both to what PostgreSQL computes.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from vendzz_migrate.typemap.convert import EPOCH, MS_LIMIT, SECONDS_LIMIT, Conversion, Kind, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import canon

FastCanon = Callable[[bytes, Any], "bytes | None"]  # (typeof, value) -> canonical bytes
Simple = Callable[[bytes, Any], "bytes | None"]
MIN_MICROS = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // canon.MICRO
MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // canon.MICRO
_KINDS = {b"null": "null", b"integer": "integer", b"real": "real", b"text": "text",
          b"blob": "blob"}
_PLACEHOLDER = re.compile(r'"\\u0000(\d+)"')


def _text(kind: bytes, value: Any) -> bytes | None:
    if kind != b"text" or b"\x00" in value:
        return None
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return bytes(value)


def _integer(low: int, high: int) -> Simple:
    def fast(kind: bytes, value: Any) -> bytes | None:
        return b"%d" % value if kind == b"integer" and low <= value <= high else None
    return fast


def _boolean(kind: bytes, value: Any) -> bytes | None:
    if kind != b"integer" or value not in (0, 1):
        return None
    return b"true" if value else b"false"


def _double(kind: bytes, value: Any) -> bytes | None:
    if kind == b"real" and value == value:  # noqa: PLR0124 - NaN takes the reference path
        return struct.pack(">d", value).hex().encode()
    if kind == b"integer" and abs(value) <= 2**53:
        return struct.pack(">d", float(value)).hex().encode()
    return None


def _timestamp(kind: bytes, value: Any) -> bytes | None:
    """Epoch seconds below 1e11, milliseconds below 1e14 (per value), as microseconds."""
    if kind != b"integer":
        return None
    magnitude = abs(value)
    if magnitude < SECONDS_LIMIT:
        micros = value * 1_000_000
    elif magnitude < MS_LIMIT:
        micros = value * 1_000
    else:
        return None
    return b"%d" % micros if MIN_MICROS <= micros <= MAX_MICROS else None


def _bytes(kind: bytes, value: Any) -> bytes | None:
    return value.hex().encode() if kind == b"blob" else None


class _Jsonb:
    """``text::jsonb::text`` with the C json module (one parser per column: no shared state):
    keys sorted while parsing, numbers other than plain integers kept as their text
    (PostgreSQL parses them as numeric), double-encoded objects and arrays unwrapped as the
    copier does. Any doubt (NUL escapes, lone surrogates, huge integers) -> ``None``, and the
    reference path decides."""

    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.decoder = json.JSONDecoder(parse_float=self._number, parse_constant=_refuse,
                                        object_hook=_sorted)

    def _number(self, literal: str) -> str:
        self.numbers.append(canon.json_number(literal))
        return f"\x00{len(self.numbers) - 1}"

    def __call__(self, kind: bytes, value: Any) -> bytes | None:
        if kind != b"text" or b"\x00" in value or b"\\u0000" in value:
            return None
        quick = _orjson_text(value)
        if quick is not None:
            return quick
        self.numbers = []
        try:
            return self.text(value.decode("utf-8")).encode("utf-8")
        except (ValueError, RecursionError, UnicodeError):
            return None

    def text(self, text: str) -> str:
        value = first = self.decoder.decode(text)
        while isinstance(value, str):
            try:
                inner = self.decoder.decode(value)
            except ValueError:
                break
            if not isinstance(inner, dict | list | str):
                break
            value = inner
        out = _ENCODER.encode(value if isinstance(value, dict | list) else first)
        if not self.numbers:
            return out
        return _PLACEHOLDER.sub(lambda m: self.numbers[int(m.group(1))], out)


class _Unsure(Exception):
    """A float (its literal matters to jsonb) or anything else the quick path leaves alone."""


def _orjson_text(value: bytes) -> bytes | None:
    """The quick path of :class:`_Jsonb` (orjson parses and prints in C): for documents without
    non-integer numbers, whose literals orjson would not keep. ``None`` when unsure: the json
    module path decides. orjson's indented output has a newline only between tokens (a string
    holds ``\\n``, never a raw newline), so removing newlines and indentation and putting a
    space after commas gives ``jsonb::text``'s ``{"a": 1, "b": [1, 2]}``."""
    try:
        data = first = orjson.loads(value)
        while isinstance(data, str):
            try:
                inner = orjson.loads(data)
            except orjson.JSONDecodeError:
                break
            if not isinstance(inner, dict | list | str):
                break
            data = inner
        ordered = _jsonb_order(data if isinstance(data, dict | list) else first)
        out = orjson.dumps(ordered, option=orjson.OPT_INDENT_2)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, _Unsure, RecursionError):
        return None
    if b"\n" not in out:
        return out
    return _NEWLINE_INDENT.sub(b"", out.replace(b",\n", b", \n"))


_NEWLINE_INDENT = re.compile(rb"\n *")
_SCALARS = (str, int, bool, type(None))


def _jsonb_order(value: Any) -> Any:
    """``value`` with every object's keys in jsonb's order; raises _Unsure on a float (or an
    integer orjson cannot print)."""
    kind = type(value)
    if kind is dict:
        keys = sorted(value)
        if len(keys) > 1:
            keys.sort(key=len if "".join(keys).isascii() else _utf8_len)
        return {k: _jsonb_order(value[k]) for k in keys}
    if kind is list:
        return [_jsonb_order(v) for v in value]
    if kind is int and not -(2**63) <= value < 2**64:
        raise _Unsure
    if kind in _SCALARS:
        return value
    raise _Unsure


def jsonb_text(text: str) -> str:
    """``text::jsonb::text`` by the fast path (raises ValueError when unsure)."""
    return _Jsonb().text(text)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _utf8_len(key: str) -> int:
    return len(key.encode("utf-8"))


def _sorted(data: dict[str, Any]) -> dict[str, Any]:
    """jsonb's key order: by byte length, then bytes (code point order is byte order)."""
    if len(data) < 2:
        return data
    keys = sorted(data)
    keys.sort(key=len if "".join(keys).isascii() else _utf8_len)
    return {k: data[k] for k in keys}


def _simple(conv: Conversion) -> Simple | None:
    single = canon.SINGLE_TYPE.fullmatch(conv.pg_type)
    if conv.kind is Kind.TEXT:
        plain = getattr(conv, "max_length", None) is None and not canon.UUID_TYPE.fullmatch(
            conv.pg_type)
        return _text if plain else None
    if conv.kind is Kind.INTEGER:
        return _integer(getattr(conv, "low", -(2**63)), getattr(conv, "high", 2**63 - 1))
    table: dict[Kind, Simple | None] = {
        Kind.BOOLEAN: _boolean, Kind.FLOAT: None if single else _double,
        Kind.TIMESTAMP: _timestamp, Kind.JSON: _Jsonb(), Kind.BYTES: _bytes,
    }
    return table.get(conv.kind)


def column_fast(conv: Conversion) -> FastCanon:
    """The canonical bytes of one SQLite value of this column (None for NULL); raises Reject
    exactly where :func:`canon.column_canon` does."""
    simple = _simple(conv)
    reference = canon.column_canon(conv)
    not_null = conv.not_null

    def general(kind: bytes, value: Any) -> bytes | None:
        if value is None:
            if not_null:
                raise Reject("NULL in a NOT NULL column")
            return None
        if simple is not None:
            found = simple(kind, value)
            if found is not None:
                return found
        text = reference(Raw(_KINDS[kind], value))
        return None if text is None else _utf8(text)

    if simple is not _text:
        return general

    def text(kind: bytes, value: Any) -> bytes | None:  # the most common column, inlined
        if kind == b"text" and b"\x00" not in value:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return general(kind, value)
            return bytes(value)
        return general(kind, value)

    return text


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Reject("text with a lone surrogate (PostgreSQL refuses it)") from None
