"""Rows holding a very large value (a 100 MB blob): streamed into COPY, never built whole.

A copy reader refuses any string or blob over ``pieces.LARGE_BYTES`` (SQLite's length limit,
see :mod:`vendzz_migrate.source.pieces`), so the fast path's line of such a row (the blob as
hex, twice its size, built by SQLite, copied by Python) is never made: the unit's scan stops
with "string or blob too big" and the unit is sent again row by row (:func:`unit_rows`). A
row that holds a large value goes field by field: small values as usual, a large blob
(``convert: bytes``), text (plain, or a ``varchar(n)``: its characters counted on the way) or
JSON read from SQLite in pieces (``pieces.chunks``) and written to COPY as they come, so
memory holds a few pieces (a WITHOUT ROWID table's: the value, once at a time). JSON goes as
the slow path converts it, checked as a stream (``typemap.bigvalue``): an object or array as
it is (PostgreSQL's jsonb input validates it, as on the fast path), a double-encoded one
decoded level by level, ``on_error`` applied to one that is not JSON (wrap: the text written
as a JSON string as it is read). Still read whole, the limit lifted for that one value: text
of a file not stored as UTF-8, and a large value that a conversion other than bytes, text
and JSON meets (text in a number column, say: it is then rejected). The record of a rejected
row (:func:`raw_row`) never reads such a value: the state store copies its bytes a piece at a
time into ``reject_pieces`` and records a reference.
"""

from __future__ import annotations

import codecs
import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from vendzz_migrate.source import pieces, qi, reader
from vendzz_migrate.source.pieces import Row, bound, too_big, unbounded
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.store import LargeValue
from vendzz_migrate.typemap import bigvalue
from vendzz_migrate.typemap.convert import Kind, OnError, Reject
from vendzz_migrate.typemap.values import Raw

__all__ = [  # with what the copy's callers take from source.pieces through this module
    "Field",
    "LargeRow",
    "Refused",
    "Row",
    "Write",
    "bound",
    "fields",
    "raw_row",
    "row_fields",
    "slow_row",
    "too_big",
    "unbounded",
    "unit_rows",
    "write_row",
]

Write = Callable[[bytes], None]
Field = bytes | Callable[[Write], None]  # a finished field, or one that writes itself


def _locate(plan: TablePlan, key: Any) -> Row:
    """The row of a key as :func:`reader.unit_rows` yields it (a rowid, or a KeyTuple)."""
    if plan.table.without_rowid:
        where, params = reader.key_clause(plan.keys, reader.to_key(key))
        return Row(plan.table.name, where, params, None)
    return Row(plan.table.name, f"{plan.rowid} = ?", [key], key)


class Refused(NamedTuple):
    """A row holding a large value that the slow path's rules reject."""

    column: str
    reason: str


def unit_rows(
    conn: sqlite3.Connection, plan: TablePlan, where: str, params: list[Any]
) -> Iterator[tuple[Any, bytes | list[Field] | Refused | None]]:
    """What :func:`reader.unit_rows` yields, row by row: (rowid, COPY line, or None for the
    slow path), or for a row holding a large value (key, its fields or why it is refused)."""
    for key in _keys(conn, plan, where, params):
        one_where, one_params = reader.key_clause(plan.keys, reader.to_key(key))
        try:
            row = list(reader.unit_rows(conn, plan, one_where, one_params))
        except sqlite3.DataError as exc:
            if not too_big(exc):
                raise
            try:
                yield key, fields(conn, plan, key)
            except _Refusal as refusal:
                yield key, refusal.refused
            continue
        if row:
            yield row[0]


def raw_row(
    conn: sqlite3.Connection, plan: TablePlan, key: reader.KeyTuple
) -> tuple[dict[str, Any], tuple[LargeValue, ...]]:
    """A rejected row's stored columns as :func:`reader.raw_row` encodes them, but a value
    over ``pieces.LARGE_BYTES``, which is never read whole: for each, a :class:`LargeValue`
    that reads its stored bytes in pieces (and ``{"type": kind}`` in the row, where the store
    puts its reference)."""
    with pieces.bounded(conn):
        try:
            return reader.raw_row(conn, plan, key), ()
        except sqlite3.DataError as exc:
            if not too_big(exc):
                raise
        row = _locate(plan, key if plan.table.without_rowid else key[0].value)
        out: dict[str, Any] = {}
        found: list[LargeValue] = []
        for column in plan.table.stored_columns:
            try:
                out |= reader.raw_row(conn, plan, key, [column.name])
                continue
            except sqlite3.DataError as exc:
                if not too_big(exc):
                    raise
            kind = pieces.kind(conn, row, column.name)
            encoding = None if kind != "text" or pieces.utf8(conn) else _encoding(conn)
            found.append(LargeValue(column.name, kind, _pieces(conn, row, column.name), encoding))
            out[column.name] = {"type": kind}
        return out, tuple(found)


def _encoding(conn: sqlite3.Connection) -> str:
    found = conn.execute("PRAGMA encoding").fetchone()[0]
    return found.decode() if isinstance(found, bytes) else str(found)


def _pieces(conn: sqlite3.Connection, row: Row, column: str) -> Callable[[], Iterator[bytes]]:
    return lambda: pieces.chunks(conn, row, column)


def _keys(conn: sqlite3.Connection, plan: TablePlan, where: str, params: list[Any]) -> list[Any]:
    """The keys of the range in key order, as :func:`reader.unit_rows` yields them."""
    table = qi(plan.table.name)
    if not plan.table.without_rowid:
        rowid = plan.keys[0]
        sql = f"SELECT {rowid} FROM {table} WHERE {where} ORDER BY {rowid}"
        return [k for (k,) in conn.execute(sql, params)]
    typed = ", ".join(f"typeof({qi(k)}), {qi(k)}" for k in plan.keys)
    order = ", ".join(qi(k) for k in plan.keys)
    rows = conn.execute(f"SELECT {typed} FROM {table} WHERE {where} ORDER BY {order}", params)
    return [reader.to_key(_raws(row)) for row in rows]


def _raws(row: tuple[Any, ...]) -> tuple[Raw, ...]:
    pairs = zip(row[::2], row[1::2], strict=True)
    return tuple(Raw(k.decode() if isinstance(k, bytes) else k, v) for k, v in pairs)


class LargeRow(NamedTuple):
    """A row holding a large value: its fields (that value in pieces), or why it is refused."""

    fields: list[Field] | Refused


def slow_row(
    conn: sqlite3.Connection, plan: TablePlan, key: reader.KeyTuple
) -> list[Raw] | LargeRow:
    """A row the fast path left to Python, read bound: its raw values; or, when it holds a
    large value the fast query did not load (another value of the row sent it there, or a
    NOT NULL column), a :class:`LargeRow`."""
    try:
        with pieces.bounded(conn):
            return reader.raw_values(conn, plan, key)
    except sqlite3.DataError as exc:
        if not too_big(exc):
            raise
    return LargeRow(row_fields(conn, plan, key))


def row_fields(
    conn: sqlite3.Connection, plan: TablePlan, key: reader.KeyTuple
) -> list[Field] | Refused:
    """:func:`fields` of the row with ``key``, or why it is refused."""
    try:
        return fields(conn, plan, key if plan.table.without_rowid else key[0].value)
    except _Refusal as refusal:
        return refusal.refused


def fields(conn: sqlite3.Connection, plan: TablePlan, key: Any) -> list[Field]:
    """The COPY fields of one row, large values as writers. A value the slow path's rules
    reject raises :class:`_Refusal` (a large text is checked whole, in chunks, before
    anything is written)."""
    from vendzz_migrate.copy.unit import slow_field

    row = _locate(plan, key)
    out: list[Field] = []
    for col in plan.columns:
        try:
            out.append(_field(conn, plan, row, col.source, col.conversion, slow_field))
        except Reject as rej:
            raise _Refusal(Refused(col.source, rej.reason)) from None
    return out


class _Refusal(Exception):
    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.reason)
        self.refused = refused


def _field(
    conn: sqlite3.Connection,
    plan: TablePlan,
    row: Row,
    column: str,
    conv: Any,
    slow_field: Callable[..., tuple[str, bool]],
) -> Field:
    kind = pieces.kind(conn, row, column)
    size = pieces.size(conn, row, column, kind) if kind in ("text", "blob") else 0
    if size > pieces.LARGE_BYTES and kind == "blob" and conv.kind is Kind.BYTES:
        return _hex_writer(conn, row, column)
    if size > pieces.LARGE_BYTES and kind == "text" and pieces.utf8(conn):
        writer = _text_field(conn, row, column, conv)
        if writer is not None:
            return writer
    with pieces.unbounded(conn):
        (value,) = pieces.one(conn, row, qi(column))
    return slow_field(plan, column, conv, Raw(kind, value))[0].encode()


def _text_field(conn: sqlite3.Connection, row: Row, column: str, conv: Any) -> Field | None:
    """A large text streamed as the slow path would send it: plain text or a ``varchar(n)``
    (checked: UTF-8, no NUL, at most n characters) as it is, or JSON (:func:`_json_field`).
    None: read it whole."""
    if conv.kind not in (Kind.TEXT, Kind.JSON):
        return None
    try:
        characters, tabs = _check_text(conn, row, column)
        limit = getattr(conv, "max_length", None)
        if limit is not None and characters > limit:
            raise Reject(f"text of {characters} characters is longer than {conv.pg_type}")
    except Reject:
        if conv.on_error is OnError.NULL:
            return b"\\N"
        raise
    if conv.kind is Kind.JSON:
        return _json_field(conn, row, column, conv, tabs)
    return _text_writer(conn, row, column)


def _json_field(conn: sqlite3.Connection, row: Row, column: str, conv: Any, tabs: bool) -> Field:
    """A large JSON text (valid UTF-8, no NUL byte) as the slow path converts it, never held
    whole: an object or array as the fast path sends it (see ``JsonConversion.ok_sql``:
    PostgreSQL's jsonb input validates it), unless it holds a tab (Python's rules there);
    else what ``unwrap_json``
    makes of it (the object or array inside JSON strings, decoded level by level, or the
    text itself), checked for NUL characters (jsonb cannot hold them), and when it is not
    valid JSON, ``on_error`` applied (wrap: the text as a JSON string, written as it is
    read)."""
    from vendzz_migrate.typemap.conversions.jsonb import NUL_REASON

    def read() -> Iterator[bytes]:
        return pieces.chunks(conn, row, column, size=bigvalue.PIECE)

    first = next(pieces.chunks(conn, row, column, first=1), b"")
    if first in (b"{", b"[") and not tabs:
        return _text_writer(conn, row, column)
    try:
        try:
            depth = bigvalue.unwrap_depth(read)
        except ValueError:
            raise Reject("invalid JSON") from None
        if not conv.verbatim and bigvalue.holds_nul(lambda: bigvalue.levels(read, depth)):
            raise Reject(NUL_REASON)
    except Reject:
        if conv.on_error is OnError.NULL:
            return b"\\N"
        if conv.on_error is OnError.WRAP:
            return _wrapped_writer(conn, row, column)
        raise

    def write_json(write: Write) -> None:
        for piece in bigvalue.levels(read, depth):
            write(_escape(piece))

    return write_json


def _wrapped_writer(conn: sqlite3.Connection, row: Row, column: str) -> Callable[[Write], None]:
    """``on_error: wrap`` of a large text: the text as a JSON string (``json.dumps``, as the
    slow path writes it), a piece at a time."""

    def write_wrapped(write: Write) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")()
        write(b'"')
        for chunk in pieces.chunks(conn, row, column):
            write(_escape(json.dumps(decoder.decode(chunk))[1:-1].encode()))
        write(_escape(json.dumps(decoder.decode(b"", final=True))[1:-1].encode()) + b'"')

    return write_wrapped


def write_row(write: Write, row: list[Field]) -> None:
    for i, field in enumerate(row):
        if i:
            write(b"\t")
        if isinstance(field, bytes):
            write(field)
        else:
            field(write)
    write(b"\n")


def _hex_writer(conn: sqlite3.Connection, row: Row, column: str) -> Callable[[Write], None]:
    def write_hex(write: Write) -> None:
        write(b"\\\\x")  # bytea's hex input '\x...', its backslash escaped for COPY
        for chunk in pieces.chunks(conn, row, column):
            write(chunk.hex().upper().encode())

    return write_hex


def _check_text(conn: sqlite3.Connection, row: Row, column: str) -> tuple[int, bool]:
    """What the slow path refuses in a text: invalid UTF-8, a NUL byte; its characters, and
    whether it holds a tab."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = characters = 0
    tabs = False
    try:
        for chunk in pieces.chunks(conn, row, column):
            if b"\x00" in chunk:
                raise Reject("NUL byte in text (PostgreSQL text cannot hold it)")
            tabs = tabs or b"\t" in chunk
            characters += len(decoder.decode(chunk))
            done += len(chunk)
        characters += len(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise Reject(f"invalid UTF-8 at byte {done + exc.start}") from None
    return characters, tabs


def _text_writer(conn: sqlite3.Connection, row: Row, column: str) -> Callable[[Write], None]:
    def write_text(write: Write) -> None:
        for chunk in pieces.chunks(conn, row, column):
            write(_escape(chunk))

    return write_text


def _escape(chunk: bytes) -> bytes:
    """Bytes of a text escaped for COPY's text format (as ``copy_escape``)."""
    return (
        chunk.replace(b"\\", b"\\\\")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )
