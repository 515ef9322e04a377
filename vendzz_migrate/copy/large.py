"""Rows holding a very large value (a 100 MB blob): streamed into COPY, never built whole.

A copy reader refuses any string or blob over :data:`LARGE_BYTES` (SQLite's length limit, see
:func:`bound`), so the fast path's line of such a row (the blob as hex, twice its size, built
by SQLite, copied by Python) is never made: the unit's scan stops with "string or blob too
big" and the unit is sent again row by row (:func:`unit_rows`). A row that holds a large value
goes field by field: small values as usual, a large blob (``convert: bytes``), text (plain, or
a ``varchar(n)``: its characters counted on the way) or a JSON object or array (sent as it is,
as the fast path does: PostgreSQL's jsonb input validates it) read from SQLite in pieces and
written to COPY as they come. A rowid table's value is read by incremental blob I/O in
:data:`CHUNK` pieces, so memory holds a few chunks; a WITHOUT ROWID table has no rowid to open
a blob by, so each :data:`KEYED_CHUNK` piece is a ``substr()`` by key, for which SQLite loads
the value (the value's size, once at a time, never a multiple of it). Other large values (JSON
that is not an object or array, or that Python must validate to apply ``on_error``; text of a
file not stored as UTF-8) are read whole, with the limit lifted for that one value.
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
KEYED_CHUNK = 4 << 20  # each piece of a WITHOUT ROWID value loads the whole value: fewer, larger
_DEFAULT_LIMIT = 1_000_000_000  # SQLite's default SQLITE_LIMIT_LENGTH

Write = Callable[[bytes], None]
Field = bytes | Callable[[Write], None]  # a finished field, or one that writes itself


class Row(NamedTuple):
    """Where one row is: its rowid (incremental blob I/O), or only its key (WITHOUT ROWID)."""

    table: str
    where: str
    params: list[Any]
    rowid: int | None


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
    (kind,) = _one(conn, row, f"typeof({qi(column)})")
    kind = kind.decode() if isinstance(kind, bytes) else kind
    size = _size(conn, row, column, kind) if kind in ("text", "blob") else 0
    if size > LARGE_BYTES and kind == "blob" and conv.kind is Kind.BYTES:
        return _hex_writer(conn, row, column)
    if size > LARGE_BYTES and kind == "text" and _utf8(conn):
        writer = _text_field(conn, row, column, conv)
        if writer is not None:
            return writer
    with unbounded(conn):
        (value,) = _one(conn, row, qi(column))
    return slow_field(plan, column, conv, Raw(kind, value))[0].encode()


def _text_field(conn: sqlite3.Connection, row: Row, column: str, conv: Any) -> Field | None:
    """A large text streamed as it is, when the slow path would send it unchanged: plain
    text or a ``varchar(n)`` (checked: UTF-8, no NUL, at most n characters), or a JSON
    object or array as the fast path sends it (see ``JsonConversion.ok_sql``: PostgreSQL's
    jsonb input validates it; one holding a tab goes to Python there, which matters only
    when ``on_error`` would keep an invalid one). None: read it whole."""
    if conv.kind is Kind.JSON:
        if next(_chunks(conn, row, column, size=1), b"") not in (b"{", b"["):
            return None
    elif conv.kind is not Kind.TEXT:
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
    if conv.kind is Kind.JSON and tabs and conv.on_error is not OnError.REJECT:
        return None
    return _text_writer(conn, row, column)


def write_row(write: Write, row: list[Field]) -> None:
    for i, field in enumerate(row):
        if i:
            write(b"\t")
        if isinstance(field, bytes):
            write(field)
        else:
            field(write)
    write(b"\n")


def _one(conn: sqlite3.Connection, row: Row, expr: str) -> tuple[Any, ...]:
    found = conn.execute(f"SELECT {expr} FROM {qi(row.table)} WHERE {row.where}", row.params)
    return tuple(found.fetchone())


def _utf8(conn: sqlite3.Connection) -> bool:
    """Whether text is stored as UTF-8: the bytes read in pieces are then the text's."""
    found = conn.execute("PRAGMA encoding").fetchone()[0]
    return (found.decode() if isinstance(found, bytes) else str(found)) == "UTF-8"


def _size(conn: sqlite3.Connection, row: Row, column: str, kind: str) -> int:
    if row.rowid is not None:
        with conn.blobopen(row.table, column, row.rowid, readonly=True) as blob:
            return len(blob)
    if kind == "blob":  # length() of a blob does not load it
        return int(_one(conn, row, f"length({qi(column)})")[0])
    with unbounded(conn):  # a text's size in bytes: SQLite loads it (once)
        return int(_one(conn, row, f"length(CAST({qi(column)} AS BLOB))")[0])


def _chunks(
    conn: sqlite3.Connection, row: Row, column: str, *, size: int | None = None
) -> Iterator[bytes]:
    """The value's bytes, a piece at a time (``size``: only the first piece, that long)."""
    if row.rowid is not None:
        with conn.blobopen(row.table, column, row.rowid, readonly=True) as blob:
            while piece := blob.read(size or CHUNK):
                yield piece
                if size:
                    return
        return
    # WITHOUT ROWID: no incremental blob I/O; substr() of the value, which SQLite loads whole
    # for each piece (so: few pieces, and the limit lifted for each read only)
    start, expr = 1, f"substr(CAST({qi(column)} AS BLOB), ?, ?)"
    sql = f"SELECT {expr} FROM {qi(row.table)} WHERE {row.where}"
    while True:
        with unbounded(conn):
            (piece,) = conn.execute(sql, [start, size or KEYED_CHUNK, *row.params]).fetchone()
        if not piece:
            return
        yield piece
        if size:
            return
        start += len(piece)


def _hex_writer(conn: sqlite3.Connection, row: Row, column: str) -> Callable[[Write], None]:
    def write_hex(write: Write) -> None:
        write(b"\\\\x")  # bytea's hex input '\x...', its backslash escaped for COPY
        for chunk in _chunks(conn, row, column):
            write(chunk.hex().upper().encode())

    return write_hex


def _check_text(conn: sqlite3.Connection, row: Row, column: str) -> tuple[int, bool]:
    """What the slow path refuses in a text: invalid UTF-8, a NUL byte; its characters, and
    whether it holds a tab."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = characters = 0
    tabs = False
    try:
        for chunk in _chunks(conn, row, column):
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
        for chunk in _chunks(conn, row, column):
            write(
                chunk.replace(b"\\", b"\\\\")
                .replace(b"\n", b"\\n")
                .replace(b"\r", b"\\r")
                .replace(b"\t", b"\\t")
            )

    return write_text
