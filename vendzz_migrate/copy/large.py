"""Rows holding a very large value (a 100 MB blob): streamed into COPY, never built whole.

A copy reader refuses any string or blob over :data:`LARGE_BYTES` (SQLite's length limit, see
:func:`bound`), so the fast path's line of such a row (the blob as hex, twice its size, built
by SQLite, copied by Python) is never made: the unit's scan stops with "string or blob too
big" and the unit is sent again row by row (:func:`unit_rows`). A row that holds a large value
goes field by field: small values as usual, a large blob (``convert: bytes``) or plain text
read from SQLite in :data:`CHUNK` pieces (incremental blob I/O) and written to COPY as they
come, so memory holds a few chunks, whatever the value's size. Other large values (JSON, a
length-checked varchar) are read whole, with the limit lifted for that one value.
"""

from __future__ import annotations

import codecs
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from vendzz_migrate.source import qi, reader
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.typemap.convert import Kind, OnError, Reject
from vendzz_migrate.typemap.values import Raw

# values (and fast-path lines) above this are not built in memory; more than any page size
# (64 kB), so that such a value always overflows its page, where typeof() does not load it
LARGE_BYTES = 16 << 20
CHUNK = 1 << 20
_DEFAULT_LIMIT = 1_000_000_000  # SQLite's default SQLITE_LIMIT_LENGTH

Write = Callable[[bytes], None]
Field = bytes | Callable[[Write], None]  # a finished field, or one that writes itself


class Refused(NamedTuple):
    """A row holding a large value that the slow path's rules reject."""

    column: str
    reason: str


def bound(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Make ``conn`` (a copy reader) refuse strings and blobs over :data:`LARGE_BYTES`."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LARGE_BYTES)
    return conn


def too_big(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DataError) and "too big" in str(exc)


@contextmanager
def unbounded(conn: sqlite3.Connection) -> Iterator[None]:
    """Lift the limit for one read that needs a large value whole."""
    before = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _DEFAULT_LIMIT)
    try:
        yield
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, before)


def streamable(plan: TablePlan) -> bool:
    """Row by row needs rowids (incremental blob I/O reads a value by rowid)."""
    return not plan.table.without_rowid


def unit_rows(
    conn: sqlite3.Connection, plan: TablePlan, where: str, params: list[Any]
) -> Iterator[tuple[Any, bytes | list[Field] | Refused | None]]:
    """What :func:`reader.unit_rows` yields, row by row: (rowid, COPY line, or None for the
    slow path), or for a row holding a large value (rowid, its fields or why it is refused)."""
    rowid = plan.keys[0]
    keys = [
        k
        for (k,) in conn.execute(
            f"SELECT {rowid} FROM {qi(plan.table.name)} WHERE {where} ORDER BY {rowid}", params
        )
    ]
    for key in keys:
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


def fields(conn: sqlite3.Connection, plan: TablePlan, rowid: int) -> list[Field]:
    """The COPY fields of one row, large values as writers. A value the slow path's rules
    reject raises :class:`_Refusal` (a large text is checked whole, in chunks, before
    anything is written)."""
    from vendzz_migrate.copy.unit import slow_field

    out: list[Field] = []
    for col in plan.columns:
        try:
            out.append(_field(conn, plan, rowid, col.source, col.conversion, slow_field))
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
    rowid: int,
    column: str,
    conv: Any,
    slow_field: Callable[..., tuple[str, bool]],
) -> Field:
    table = plan.table.name
    (kind,) = conn.execute(
        f"SELECT typeof({qi(column)}) FROM {qi(table)} WHERE rowid = ?", (rowid,)
    ).fetchone()
    kind = kind.decode() if isinstance(kind, bytes) else kind
    size = _size(conn, table, column, rowid) if kind in ("text", "blob") else 0
    if size > LARGE_BYTES and kind == "blob" and conv.kind is Kind.BYTES:
        return _hex_writer(conn, table, column, rowid)
    if (
        size > LARGE_BYTES
        and kind == "text"
        and conv.kind is Kind.TEXT
        and getattr(conv, "max_length", None) is None
    ):
        try:
            _check_text(conn, table, column, rowid)
        except Reject:
            if conv.on_error is OnError.NULL:
                return b"\\N"
            raise
        return _text_writer(conn, table, column, rowid)
    with unbounded(conn):
        (value,) = conn.execute(
            f"SELECT {qi(column)} FROM {qi(table)} WHERE rowid = ?", (rowid,)
        ).fetchone()
    return slow_field(plan, column, conv, Raw(kind, value))[0].encode()


def write_row(write: Write, row: list[Field]) -> None:
    for i, field in enumerate(row):
        if i:
            write(b"\t")
        if isinstance(field, bytes):
            write(field)
        else:
            field(write)
    write(b"\n")


def _size(conn: sqlite3.Connection, table: str, column: str, rowid: int) -> int:
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        return len(blob)


def _chunks(conn: sqlite3.Connection, table: str, column: str, rowid: int) -> Iterator[bytes]:
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        while chunk := blob.read(CHUNK):
            yield chunk


def _hex_writer(
    conn: sqlite3.Connection, table: str, column: str, rowid: int
) -> Callable[[Write], None]:
    def write_hex(write: Write) -> None:
        write(b"\\\\x")  # bytea's hex input '\x...', its backslash escaped for COPY
        for chunk in _chunks(conn, table, column, rowid):
            write(chunk.hex().upper().encode())

    return write_hex


def _check_text(conn: sqlite3.Connection, table: str, column: str, rowid: int) -> None:
    """What the slow path refuses in a text: invalid UTF-8, a NUL byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0
    try:
        for chunk in _chunks(conn, table, column, rowid):
            if b"\x00" in chunk:
                raise Reject("NUL byte in text (PostgreSQL text cannot hold it)")
            decoder.decode(chunk)
            done += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise Reject(f"invalid UTF-8 at byte {done + exc.start}") from None


def _text_writer(
    conn: sqlite3.Connection, table: str, column: str, rowid: int
) -> Callable[[Write], None]:
    def write_text(write: Write) -> None:
        for chunk in _chunks(conn, table, column, rowid):
            write(
                chunk.replace(b"\\", b"\\\\")
                .replace(b"\n", b"\\n")
                .replace(b"\r", b"\\r")
                .replace(b"\t", b"\\t")
            )

    return write_text
