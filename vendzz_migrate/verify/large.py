"""Values over ``pieces.LARGE_BYTES`` on verify's SQLite side: never read whole (issue #11).

verify's SQLite reader is bound (:func:`vendzz_migrate.source.pieces.bound`): a statement
that meets a string or blob over ``pieces.LARGE_BYTES`` stops with "string or blob too big"
before it loads it. The scans (``lite._scan``) then read that one row column by column
(:func:`read_row`), each refused value as a marker: the storage class :data:`TEXT` or
:data:`BLOB` (no ``typeof()`` gives them) and its size. :func:`set_apart` replaces each
marker (and the blob markers of :mod:`blobs`) by a placeholder every conversion accepts, and
gives the value's canonical bytes a piece at a time (:class:`Value`):

- a bytea column: the value's hex (as :mod:`blobs`);
- a text column whose text is its canonical form (text, varchar(n), citext...): the value's
  bytes, checked as they come like the whole-value path checks them (UTF-8, no NUL, a
  varchar's length in characters);
- a JSON column: the text the copy sends (a double-encoded document decoded level by level,
  ``typemap.bigvalue``); for ``json``, that text; for ``jsonb``, jsonb's own text, which only
  a JSON parser can give (keys reordered, duplicates dropped): PostgreSQL computes it, the
  text streamed by COPY into a temporary table of a connection of verify's own (:func:`use`)
  and the canonical text read back in pieces.

Anything else (another conversion, a value that does not pass a check, JSON that PostgreSQL
refuses, no connection for JSON) raises :class:`Unsure` while its pieces are read: the row is
then read whole (``lite._whole``), exactly as before, so a value that does not convert is
reported with the same reason; only such rows cost a multiple of their size.

A path that misses a marker cannot take it for NULL: its value is the size (never None) and
its storage class is none that any canonicaliser knows (KeyError).
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import pieces, qi
from vendzz_migrate.source.reader import key_clause
from vendzz_migrate.typemap import bigvalue
from vendzz_migrate.typemap.convert import Kind
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import blobs
from vendzz_migrate.verify.spec import Spec

if TYPE_CHECKING:
    import psycopg

TEXT = b"large text"  # a marker's storage class; its value: the size in bytes (-1: unknown)
BLOB = b"large blob"
MARKS = (TEXT, BLOB)
_KINDS = {b"null": "null", b"integer": "integer", b"real": "real", b"text": "text", b"blob": "blob"}


class Unsure(Exception):
    """A large value this module cannot settle a piece at a time: read its row whole."""


class Value(NamedTuple):
    """A value set apart from its row: its bytes, a piece at a time; ``hexed``: a bytea's
    raw bytes, whose canonical form is their hex (else the pieces are the canonical bytes)."""

    pieces: Iterable[bytes]
    hexed: bool = False

    def canonical(self) -> Iterator[bytes]:
        if not self.hexed:
            yield from self.pieces
            return
        for piece in self.pieces:
            yield binascii.hexlify(piece)


# -- where a row is, and reading it column by column -----------------------------------------


def locate(spec: Spec, row: Sequence[Any]) -> pieces.Row:
    """Where a row read in ``lite._select``'s layout is: its rowid, or its key."""
    if row[0] is not None:
        return pieces.Row(spec.name, f"{spec.rowid} = ?", [row[0]], row[0])
    kinds = [row[1 + 2 * p] for p in spec.key_pos]
    if not spec.key_pos or any(k not in _KINDS for k in kinds):
        raise SourceError(
            f"{spec.name}: a value over {pieces.LARGE_BYTES} bytes in a table without rowids"
            " whose key verify does not compare"
        )
    key = tuple(Raw(_KINDS[k], row[2 + 2 * p]) for k, p in zip(kinds, spec.key_pos, strict=True))
    where, params = key_clause(spec.key_columns, key)
    return pieces.Row(spec.name, where, params, None)


def read_row(conn: sqlite3.Connection, spec: Spec, at: pieces.Row) -> list[Any] | None:
    """One row in ``lite._select``'s layout (``streamed``), read column by column on a bound
    reader: a value the bound refuses as a marker (a key value: read whole). None: gone."""
    table = qi(spec.name)
    rowid = spec.rowid if spec.has_rowid else "NULL"
    kinds = ", ".join(f"typeof({qi(c.source)})" for c in spec.columns) or "NULL"
    head = conn.execute(f"SELECT {rowid}, {kinds} FROM {table} WHERE {at.where}", at.params)
    found = head.fetchone()
    if found is None:
        return None
    if found[0] is not None:  # by rowid: incremental blob I/O gives a value's size
        at = pieces.Row(spec.name, f"{spec.rowid} = ?", [found[0]], found[0])
    out: list[Any] = [found[0]]
    for pos, col in enumerate(spec.columns):
        sql = f"SELECT {blobs.pair_sql(spec, pos, streamed=True)} FROM {table} WHERE {at.where}"
        try:
            pair = conn.execute(sql, at.params).fetchone()
        except sqlite3.DataError as exc:
            if not pieces.too_big(exc):
                raise
            kind = found[1 + pos]
            if pos in spec.key_pos or kind not in (b"text", b"blob"):
                with pieces.unbounded(conn):
                    pair = conn.execute(sql, at.params).fetchone()
            else:
                size = -1
                if at.rowid is not None:  # incremental blob I/O: its size without loading it
                    size = pieces.size(conn, at, col.source, kind.decode())
                pair = (TEXT if kind == b"text" else BLOB, size)
        if pair is None:
            raise SourceError(f"{spec.name}: a row vanished inside one read transaction")
        out.extend(pair)
    return out


# -- values set apart ------------------------------------------------------------------------


def set_apart(
    conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]
) -> tuple[Sequence[Any], dict[int, Value]]:
    """The row with every large value (a marker of :mod:`blobs` or of this module, or a bytea
    value read whole) replaced by a placeholder that its column's conversion accepts, and
    those values by position (see the module docstring)."""
    row, found = blobs.set_apart(conn, spec, row)
    large = {pos: Value(p, hexed=True) for pos, p in found.items()}
    marked = [pos for pos in range(len(spec.columns)) if row[1 + 2 * pos] in MARKS]
    if not marked:
        return row, large
    apart = list(row)
    at = locate(spec, row)
    for pos in marked:
        kind = row[1 + 2 * pos]
        conv = spec.columns[pos].conversion
        if conv.kind is Kind.BYTES and spec.pg_types[pos] == "bytea":
            large[pos] = Value(_chunks(conn, at, spec, pos), hexed=True)
            placeholder: tuple[bytes, bytes] = (b"blob", b"")
        elif conv.kind is Kind.TEXT and not getattr(conv, "is_uuid", True):
            large[pos] = Value(_text(conn, at, spec, pos, kind == TEXT))
            placeholder = (b"text", b"")
        elif conv.kind is Kind.JSON and kind == TEXT:
            large[pos] = Value(_json(conn, at, spec, pos))
            placeholder = (b"text", b"[]")
        else:
            raise Unsure("no piecewise form")
        apart[1 + 2 * pos], apart[2 + 2 * pos] = placeholder
    return apart, large


def _chunks(
    conn: sqlite3.Connection, at: pieces.Row, spec: Spec, pos: int, size: int | None = None
) -> Iterator[bytes]:
    column = spec.columns[pos].source
    try:
        yield from pieces.chunks(conn, at, column, size=size)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}.{column}: {exc}") from None


def _text(
    conn: sqlite3.Connection, at: pieces.Row, spec: Spec, pos: int, text: bool
) -> Iterator[bytes]:
    """A text column's value: its bytes, as the whole-value path checks them (UTF-8, no NUL
    byte, at most a varchar's length in characters); any doubt: :class:`Unsure`."""
    if text and not pieces.utf8(conn):
        raise Unsure("text not stored as UTF-8")
    limit = getattr(spec.columns[pos].conversion, "max_length", None)
    decoder = codecs.getincrementaldecoder("utf-8")()
    characters = 0
    try:
        for chunk in _chunks(conn, at, spec, pos):
            if b"\x00" in chunk:
                raise Unsure("NUL byte")
            characters += len(decoder.decode(chunk))
            if limit is not None and characters > limit:
                raise Unsure("longer than the column")
            yield chunk
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise Unsure("invalid UTF-8") from None


# -- JSON, canonicalised by PostgreSQL ---------------------------------------------------------

_TABLE = "vz_verify_large"
_open: Callable[[], psycopg.Connection] | None = None
_conn: list[psycopg.Connection] = []  # the connection, once opened
_owner: list[int] = []  # the process that opened it


def use(url: str | None, timeout_s: int | None = None) -> None:
    """Canonicalise large JSON values on a connection of their own to ``url`` (opened when
    first needed); None: close it (large JSON values are then read whole). A forked worker
    leaves its parent's connection alone (see ``procs``): it only forgets it."""
    global _open
    if _owner == [os.getpid()]:
        for conn in _conn:
            conn.close()
    _conn.clear()
    _owner.clear()
    if url is None:
        _open = None
        return

    def opener() -> psycopg.Connection:
        from vendzz_migrate.pg import TIMEOUT_S, connect

        return connect(url, command="verify", autocommit=True, timeout_s=timeout_s or TIMEOUT_S)

    _open = opener


@contextmanager
def using(conn: psycopg.Connection) -> Iterator[None]:
    """Canonicalise large JSON values on ``conn`` (its own work in savepoints) meanwhile."""
    global _open
    before, held = _open, list(_conn)
    _open = lambda: conn  # noqa: E731
    _conn[:] = [conn]
    try:
        yield
    finally:
        _open = before
        _conn[:] = held


def _target() -> psycopg.Connection | None:
    if not _conn and _open is not None:
        _conn.append(_open())
        _owner[:] = [os.getpid()]
    return _conn[0] if _conn else None


def _json(conn: sqlite3.Connection, at: pieces.Row, spec: Spec, pos: int) -> Iterator[bytes]:
    """A JSON value's canonical text: what the copy sends (``unwrap_json``: the object or
    array inside JSON strings, decoded level by level by ``typemap.bigvalue``, or the text
    itself), as it is for a ``json`` column, and for ``jsonb`` as PostgreSQL prints it: that
    text streamed by COPY into a temporary table, cast there, read back in pieces
    (``substring`` of an uncompressed bytea reads only its piece). An object or array goes
    to PostgreSQL unparsed (its jsonb input validates it, as the copy's). A refusal (invalid
    JSON, UTF-8, NUL...): :class:`Unsure` (the row is read whole, and Python gives the
    reason)."""
    import psycopg

    from vendzz_migrate.pg import classify

    if not pieces.utf8(conn):
        raise Unsure("text not stored as UTF-8")
    verbatim = bool(getattr(spec.columns[pos].conversion, "verbatim", False))

    def read() -> Iterator[bytes]:
        return _chunks(conn, at, spec, pos, size=bigvalue.PIECE)

    if bigvalue.first_byte(read) in (b"{", b"["):
        depth = 0
        if verbatim and not bigvalue.json_valid(read()):
            raise Unsure("invalid JSON")
    else:
        try:
            depth = bigvalue.unwrap_depth(read)
        except ValueError:
            raise Unsure("invalid JSON") from None
    if verbatim:  # the text itself, checked above
        yield from bigvalue.levels(read, depth)
        return
    pg = _target()
    if pg is None:
        raise Unsure("no connection")
    try:
        with pg.transaction():
            pg.execute("SET LOCAL client_encoding = 'UTF8'")  # the bytes COPY sends
            pg.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_TABLE} (v text, c bytea)"
            )  # uncompressed: no time lost compressing, and a substring reads its piece only
            pg.execute(
                f"ALTER TABLE {_TABLE} ALTER v SET STORAGE EXTERNAL, ALTER c SET STORAGE EXTERNAL"
            )
            pg.execute(f"TRUNCATE {_TABLE}")
            with pg.cursor().copy(f"COPY {_TABLE} (v) FROM STDIN") as copy:
                for chunk in bigvalue.levels(read, depth):
                    copy.write(
                        chunk.replace(b"\\", b"\\\\")
                        .replace(b"\n", b"\\n")
                        .replace(b"\r", b"\\r")
                        .replace(b"\t", b"\\t")
                    )
                copy.write(b"\n")
            pg.execute(f"UPDATE {_TABLE} SET c = convert_to(v::jsonb::text, 'UTF8'), v = NULL")
        (size,) = pg.execute(f"SELECT length(c) FROM {_TABLE}").fetchone() or (0,)
        sql = f"SELECT substring(c FROM %s FOR %s) FROM {_TABLE}"
        for start in range(1, size + 1, pieces.CHUNK):
            found = pg.execute(sql, (start, pieces.CHUNK), binary=True).fetchone()
            assert found is not None
            yield bytes(found[0])
    except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded):
        raise Unsure("PostgreSQL refused it") from None
    except psycopg.Error as exc:
        raise classify(exc) from None


# -- shown: the changed row's columns -----------------------------------------------------------


def shown(value: Value) -> bytes:
    """A large value as a changed row's columns compare and show it: a bytea as its size and
    md5 (``blobs.shown``); other canonical text over ``pieces.LARGE_BYTES`` likewise, of the
    canonical bytes (``pgcanon.shown_sql``), and a shorter one as itself."""
    if value.hexed:
        return blobs.shown(value.pieces)
    held: list[bytes] = []
    md5, size = hashlib.md5(), 0
    for piece in value.canonical():
        md5.update(piece)
        size += len(piece)
        if size <= pieces.LARGE_BYTES:
            held.append(piece)
        else:
            held.clear()
    if size <= pieces.LARGE_BYTES:
        return b"".join(held)
    return blobs.SHOWN.format(size=size, md5=md5.hexdigest()).encode()


def shown_whole(value: bytes | None) -> bytes | None:
    """A non-bytea canonical value read whole, as :func:`shown` shows it."""
    if value is None or len(value) <= pieces.LARGE_BYTES:
        return value
    return blobs.SHOWN.format(size=len(value), md5=hashlib.md5(value).hexdigest()).encode()
