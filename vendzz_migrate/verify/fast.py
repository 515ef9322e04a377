"""Fast paths of the canonical encoding, for the values that make up almost every row.

Each function takes a SQLite value as read (``typeof()`` as bytes, the value) and returns its
canonical UTF-8 bytes, or ``None`` when the value is not in its simple form; the caller then
takes the reference path (:func:`vendzz_migrate.verify.canon.column_canon`). Their results are
the same by construction, and the property tests hold both to what PostgreSQL computes.
"""

from __future__ import annotations

import binascii
import json
import operator
import re
import struct
from collections.abc import Callable, Iterable
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


_TEXT_TIMESTAMP = re.compile(rb"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)\.(\d{3})Z"
                             rb"| (\d\d):(\d\d):(\d\d))")


def _text_timestamp(value: bytes) -> bytes | None:
    """``2025-06-20T17:31:04.000Z`` (JavaScript's toISOString) or ``2025-06-20 17:31:04``
    (SQLite's CURRENT_TIMESTAMP) as epoch microseconds; None for any other text."""
    found = _TEXT_TIMESTAMP.fullmatch(value)
    if found is None:
        return None
    y, mo, d, h, mi, s, ms, h2, mi2, s2 = found.groups()
    try:
        moment = datetime(int(y), int(mo), int(d), int(h or h2), int(mi or mi2), int(s or s2),
                          tzinfo=UTC)
    except ValueError:
        return None
    micros = (moment - EPOCH) // canon.MICRO + (int(ms) * 1000 if ms else 0)
    return b"%d" % micros


def _timestamp(kind: bytes, value: Any) -> bytes | None:
    """Epoch seconds below 1e11, milliseconds below 1e14 (per value), as microseconds; the
    service's two text forms (:func:`_text_timestamp`)."""
    if kind == b"text":
        return _text_timestamp(value)
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
    return binascii.hexlify(value) if kind == b"blob" else None  # no str copy in between


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
        if kind != b"text":
            return None
        quick = json_quick(value)  # refuses raw NUL (invalid JSON); checks \u0000 itself
        if quick is not None:
            return quick
        if b"\x00" in value or b"\\u0000" in value:
            return None
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
    """The second quick path of :class:`_Jsonb` (after ``_speed.json_text``, see
    :func:`json_quick`): orjson parses, :data:`text_of` prints (C, or :func:`walk_text`); for
    documents without non-integer numbers, whose literals orjson would not keep. ``None`` when
    unsure: the json module path decides."""
    try:
        data = first = orjson.loads(value)
        while type(data) is str:
            try:
                inner = orjson.loads(data)
            except orjson.JSONDecodeError:
                break
            if not isinstance(inner, dict | list | str):
                break
            data = inner
        kind = type(data)
        if kind is not dict and kind is not list:
            if type(first) is float:
                return None
            return orjson.dumps(first)
        return text_of(data)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, _Unsure, _CUnsure, RecursionError):
        return None


def walk_text(data: dict[str, Any] | list[Any]) -> bytes | None:
    """jsonb's text of a parsed object or array, in Python (raises _Unsure on a float, None
    for a NUL). jsonb prints ``{"a": 1, "b": [1, 2]}``: when the compact output holds
    exactly as many ':' and ',' as the document has keys and separators, none is inside a
    string and a space goes after each. Otherwise the indented output: it has a newline only
    between tokens (a string holds ``\\n``, never a raw newline), each followed by two spaces
    per level, so removing them (deepest first) and putting a space after commas does it."""
    walk = _Walk()
    ordered = walk.obj(data, 1) if type(data) is dict else walk.arr(data, 1)  # type: ignore[arg-type]
    out = orjson.dumps(ordered)
    if b"\\u0000" in out:  # jsonb refuses NUL in text: the reference path decides
        return None
    if out.count(b":") == walk.colons and out.count(b",") == walk.commas:
        # every ':' and ',' is a separator (no string holds one): space them as jsonb
        return out.replace(b":", b": ").replace(b",", b", ")
    out = orjson.dumps(ordered, option=orjson.OPT_INDENT_2)
    if b"\n" not in out:
        return out
    out = out.replace(b",\n", b", \n")
    for depth in range(walk.deepest, -1, -1):
        out = out.replace(_INDENTS[depth] if depth < len(_INDENTS) else b"\n" + b"  " * depth,
                          b"")
    return out


try:  # verify's hot loops in C (vendzz_migrate/verify/_speed.c), built at install time
    from vendzz_migrate.verify import _speed
except ImportError:  # no C compiler at install time: the same results, in Python, slower
    _speed = None  # type: ignore[assignment]

_CUnsure: type[Exception] = _Unsure if _speed is None else _speed.Unsure
has_sums = _speed is not None and hasattr(_speed, "sums")  # not built without 128-bit integers


def c_sums(rows: Iterable[Any], ops: tuple[tuple[int, Any], ...], json: tuple[bool, ...],
           width: int, key: int, starts: list[bytes],
           rejected: set[int] | frozenset[int] | None, reject: type[Exception], segments: int
           ) -> tuple[list[int], list[int], list[Any], int]:
    """The per-row loop of :func:`vendzz_migrate.verify.lite.segment_sums` in C (see
    ``_speed.c``): (rows, sum of row hashes) per segment of the rows it took, the rows it left
    to the Python loop, and how many it took."""
    return _speed.sums(rows, ops, json, width, key, starts, rejected, reject, segments)


# jsonb's text of a document orjson parsed (a document json_text was not sure of)
text_of: Callable[[dict[str, Any] | list[Any]], bytes | None] = \
    walk_text if _speed is None else _speed.text


_INDENTS = [b"\n" + b"  " * depth for depth in range(32)]
_Order = tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]]] | None
_ORDERS: dict[tuple[str, ...], _Order] = {}  # key order -> jsonb's (and its getter), if other


def _jsonb_key_order(keys: tuple[str, ...]) -> _Order:
    """jsonb's order of these keys (byte length, then bytes) and a getter of the values in
    that order; None when it is their order."""
    if len(keys) < 2:
        return None
    try:
        return _ORDERS[keys]
    except KeyError:
        pass
    order = sorted(keys)
    order.sort(key=len if all(map(str.isascii, order)) else _utf8_len)
    found = None if tuple(order) == keys else (tuple(order), operator.itemgetter(*order))
    if len(_ORDERS) < 4096:  # documents of one column share a handful of key sets
        _ORDERS[keys] = found
    return found


class _Walk:
    """Objects put in jsonb's key order (copied only when needed); raises _Unsure on a float
    (orjson turns integers beyond 64 bits into floats too). Counts the keys and separators,
    and ``deepest``: the deepest level holding a container, for the indentation to remove."""

    __slots__ = ("colons", "commas", "deepest")

    def __init__(self) -> None:
        self.deepest = 1
        self.colons = self.commas = 0  # keys, and separators between members and elements

    def obj(self, value: dict[str, Any], depth: int) -> dict[str, Any]:
        keys = tuple(value)
        order = _jsonb_key_order(keys)
        self.colons += len(keys)
        self.commas += len(keys) - 1 if keys else 0
        nested = False
        for item in value.values():
            kind = type(item)
            if kind is dict or kind is list:
                nested = True
                break
            if kind is float:
                raise _Unsure
        if not nested:
            return value if order is None else dict(zip(order[0], order[1](value), strict=True))
        if depth >= self.deepest:
            self.deepest = depth + 1
        out: dict[str, Any] = {}
        for key in order[0] if order is not None else keys:
            item = value[key]
            kind = type(item)
            if kind is dict:
                out[key] = self.obj(item, depth + 1)
            elif kind is list:
                out[key] = self.arr(item, depth + 1)
            elif kind is float:
                raise _Unsure
            else:
                out[key] = item
        return out

    def arr(self, value: list[Any], depth: int) -> list[Any]:
        out: list[Any] | None = None
        self.commas += len(value) - 1 if value else 0
        for i, item in enumerate(value):
            kind = type(item)
            if kind is dict or kind is list:
                if depth >= self.deepest:
                    self.deepest = depth + 1
                if out is None:
                    out = value[:i]
                out.append(self.obj(item, depth + 1) if kind is dict
                           else self.arr(item, depth + 1))
            elif kind is float:
                raise _Unsure
            elif out is not None:
                out.append(item)
        return value if out is None else out


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


def json_quick(value: bytes) -> bytes | None:
    """jsonb's text of a JSON document, by the quickest path that is sure of it: C straight
    from the bytes (``_speed.json_text``: objects and arrays of strings, integers, booleans
    and nulls), else orjson (:func:`_orjson_text`); None: unsure (the json module decides)."""
    if _speed is not None:
        found = _speed.json_text(value)
        if found is not None:
            return found
    return _orjson_text(value)


def is_json(conv: Conversion) -> bool:
    """Whether :func:`column_fast`'s canon of this column is :class:`_Jsonb` (whose first try,
    ``_speed.json_text``, the C row loop makes itself, with no Python call)."""
    return isinstance(_simple(conv), _Jsonb)


def plain_text(conv: Conversion) -> bool:
    """Whether a text value of this column is its own canonical form (valid UTF-8, no NUL)."""
    return _simple(conv) is _text


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
