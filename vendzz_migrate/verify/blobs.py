"""Large bytea values on verify's SQLite side: left in SQLite, hashed a piece at a time.

Every verify read of whole rows (``lite._select`` with ``streamed``) selects a blob over
:data:`LARGE_BLOB` of a bytea column as a marker instead of its value: the storage class
:data:`MARK` (no ``typeof()`` gives it) and the value's length. SQLite reads neither for it
(``typeof()`` and ``length()`` of a blob do not load its overflow pages), so no row's size is
ever held whole by SQLite or Python. :func:`set_apart` replaces each marker by an empty blob
and yields the value's bytes later, read through incremental blob I/O
(``Connection.blobopen``) in pieces of :data:`LARGE_BLOB`; ``lite.row_digest`` hashes their
hex a piece at a time, so the row's digest is the very md5 of its canonical bytes.

A path that missed the marker cannot take it for NULL: ``b"large"`` is no storage class, so
any canonicaliser fails on it (KeyError) rather than answer. WITHOUT ROWID tables have no
rowid to open a blob by: their values up to ``pieces.LARGE_BYTES`` are read whole (see
:func:`streams`), and only their hex text is built a piece at a time; larger values, of any
table, are :mod:`vendzz_migrate.verify.large`'s.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import qi
from vendzz_migrate.typemap.convert import LARGE_BLOB, Kind
from vendzz_migrate.verify.spec import Spec

MARK = b"large"  # the storage class of a marker (typeof() never gives it); its value: length
Pieces = Iterable[bytes]  # a large value's bytes, a piece at a time


def streams(spec: Spec, pos: int) -> bool:
    """Whether the column's large blobs are left in SQLite: a bytea column (its canonical
    form is the value's hex) that is not a key column, of a table with rowids (incremental
    blob I/O opens a value by rowid: a WITHOUT ROWID table's values are read whole)."""
    col = spec.columns[pos]
    return (
        spec.has_rowid
        and col.conversion.kind is Kind.BYTES
        and spec.pg_types[pos] == "bytea"
        and pos not in spec.key_pos
    )


def pair_sql(spec: Spec, pos: int, *, streamed: bool) -> str:
    """The ``typeof(c), c`` pair of one column in a row as verify reads it; with
    ``streamed``, a large blob of a :func:`streams` column as (:data:`MARK`, its length)."""
    c = qi(spec.columns[pos].source)
    if not (streamed and streams(spec, pos)):
        return f"typeof({c}), {c}"
    large = f"typeof({c}) = 'blob' AND length({c}) > {LARGE_BLOB}"
    return (
        f"CASE WHEN {large} THEN '{MARK.decode()}' ELSE typeof({c}) END,"
        f" CASE WHEN {large} THEN length({c}) ELSE {c} END"
    )


def set_apart(
    conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]
) -> tuple[Sequence[Any], dict[int, Pieces]]:
    """The row with every large bytea value (a marker, or a value read whole, blob or text)
    replaced by an empty blob, and those values' bytes by position, a piece at a time."""
    large: dict[int, Pieces] = {}
    for pos in range(len(spec.columns)):
        kind, value = row[1 + 2 * pos], row[2 + 2 * pos]
        if kind == MARK:
            large[pos] = _blob_pieces(conn, spec, pos, row[0], value)
        elif (
            kind in (b"blob", b"text")
            and len(value) > LARGE_BLOB
            and spec.columns[pos].conversion.kind is Kind.BYTES
            and spec.pg_types[pos] == "bytea"
            and pos not in spec.key_pos
        ):  # read whole (WITHOUT ROWID, or text): only its hex text goes in pieces
            large[pos] = _slices(value)
    if not large:
        return row, large
    apart = list(row)
    for pos in large:
        apart[1 + 2 * pos], apart[2 + 2 * pos] = b"blob", b""
    return apart, large


def _slices(value: bytes) -> Iterator[bytes]:
    for start in range(0, len(value), LARGE_BLOB):
        yield value[start : start + LARGE_BLOB]


def _blob_pieces(
    conn: sqlite3.Connection, spec: Spec, pos: int, rowid: int, size: int
) -> Iterator[bytes]:
    """The value's bytes by incremental blob I/O, inside the reader's read transaction."""
    column = spec.columns[pos].source
    try:
        with conn.blobopen(spec.name, column, rowid, readonly=True) as blob:
            if len(blob) != size:
                raise SourceError(f"{spec.name}.{column}: a value changed inside one read")
            while piece := blob.read(LARGE_BLOB):
                yield piece
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}.{column}: {exc}") from None


# what a large bytea value shows in a changed row's columns, on both sides (pgcanon.shown_sql)
SHOWN = "<{size} bytes, md5 {md5}>"


def shown(pieces: Pieces) -> bytes:
    """A large value as the differing columns of a changed row compare and show it: its
    size and the md5 of its bytes (``pgcanon.shown_sql``), not 2 MB of hex per MB."""
    md5, size = hashlib.md5(), 0
    for piece in pieces:
        md5.update(piece)
        size += len(piece)
    return SHOWN.format(size=size, md5=md5.hexdigest()).encode()
