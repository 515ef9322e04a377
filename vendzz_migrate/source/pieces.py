"""Very large values of a SQLite file, never loaded whole: SQLite's length limit and pieces.

A reader bound by :func:`bound` refuses any string or blob over :data:`LARGE_BYTES` ("string
or blob too big", :func:`too_big`) before it loads it: SQLite checks a value's size in its
record header before it reads the overflow pages. A statement that meets such a value stops,
and its caller goes back to the row (a :class:`Row`) and reads the value in pieces
(:func:`chunks`): a rowid table's by incremental blob I/O (``Connection.blobopen``, which
also opens text) in :data:`CHUNK` pieces; a WITHOUT ROWID table's (no rowid to open a blob
by) as ``substr()`` pieces of :data:`KEYED_CHUNK` by key, for which SQLite loads the value
once per piece (the value's size, once at a time, never a multiple of it). Used by the copy
(``copy.large``) and the column profiles (``typemap.profile``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from vendzz_migrate.source import qi

# values above this are not built in memory; more than any page size (64 kB), so that such a
# value always overflows its page, where typeof() (and a blob's length()) does not load it
LARGE_BYTES = 16 << 20
CHUNK = 1 << 20
KEYED_CHUNK = 4 << 20  # each piece of a WITHOUT ROWID value loads the whole value: fewer, larger
_DEFAULT_LIMIT = 1_000_000_000  # SQLite's default SQLITE_LIMIT_LENGTH


class Row(NamedTuple):
    """Where one row is: its rowid (incremental blob I/O), or only its key (WITHOUT ROWID)."""

    table: str
    where: str
    params: list[Any]
    rowid: int | None


def bound(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Make ``conn`` refuse strings and blobs over :data:`LARGE_BYTES`."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LARGE_BYTES)
    return conn


def too_big(exc: BaseException) -> bool:
    """Whether ``exc`` is a bound reader's refusal of a large value."""
    return isinstance(exc, sqlite3.DataError) and "too big" in str(exc)


@contextmanager
def bounded(conn: sqlite3.Connection) -> Iterator[None]:
    """:func:`bound` for a while: the limit the connection had is set back after."""
    before = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LARGE_BYTES)
    try:
        yield
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, before)


@contextmanager
def unbounded(conn: sqlite3.Connection) -> Iterator[None]:
    """Lift the limit for one read that needs a large value whole."""
    before = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _DEFAULT_LIMIT)
    try:
        yield
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, before)


def one(conn: sqlite3.Connection, row: Row, expr: str) -> tuple[Any, ...]:
    """``expr`` over the one row ``row``."""
    found = conn.execute(f"SELECT {expr} FROM {qi(row.table)} WHERE {row.where}", row.params)
    return tuple(found.fetchone())


def kind(conn: sqlite3.Connection, row: Row, column: str) -> str:
    """The storage class of one value (``typeof()``). SQLite does not load a value for it,
    but in a column of REAL affinity (whose values it converts as it reads them): there a
    large text or blob is loaded, once, the limit lifted for it."""
    expr = f"typeof({qi(column)})"
    try:
        (found,) = one(conn, row, expr)
    except sqlite3.DataError as exc:
        if not too_big(exc):
            raise
        with unbounded(conn):
            (found,) = one(conn, row, expr)
    return found.decode() if isinstance(found, bytes) else str(found)


def utf8(conn: sqlite3.Connection) -> bool:
    """Whether text is stored as UTF-8: the bytes read in pieces are then the text's."""
    found = conn.execute("PRAGMA encoding").fetchone()[0]
    return (found.decode() if isinstance(found, bytes) else str(found)) == "UTF-8"


def size(conn: sqlite3.Connection, row: Row, column: str, kind: str) -> int:
    """The stored size in bytes of a text or blob value."""
    if row.rowid is not None:
        with conn.blobopen(row.table, column, row.rowid, readonly=True) as blob:
            return len(blob)
    if kind == "blob":  # length() of a blob does not load it
        return int(one(conn, row, f"length({qi(column)})")[0])
    with unbounded(conn):  # a text's size in bytes: SQLite loads it (once)
        return int(one(conn, row, f"length(CAST({qi(column)} AS BLOB))")[0])


def chunks(
    conn: sqlite3.Connection,
    row: Row,
    column: str,
    *,
    first: int | None = None,
    size: int | None = None,
) -> Iterator[bytes]:
    """The value's stored bytes, a piece at a time, of :data:`CHUNK` bytes or ``size``
    (``first``: only the first piece, that long)."""
    if row.rowid is not None:
        with conn.blobopen(row.table, column, row.rowid, readonly=True) as blob:
            while piece := blob.read(first or size or CHUNK):
                yield piece
                if first:
                    return
        return
    # WITHOUT ROWID: no incremental blob I/O; substr() of the value, which SQLite loads whole
    # for each piece (so: few pieces, and the limit lifted for each read only)
    start, expr = 1, f"substr(CAST({qi(column)} AS BLOB), ?, ?)"
    sql = f"SELECT {expr} FROM {qi(row.table)} WHERE {row.where}"
    while True:
        with unbounded(conn):
            (piece,) = conn.execute(sql, [start, first or KEYED_CHUNK, *row.params]).fetchone()
        if not piece:
            return
        yield piece
        if first:
            return
        start += len(piece)
