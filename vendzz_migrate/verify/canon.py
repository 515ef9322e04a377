"""One canonical text per value, computed from SQLite values in Python: the reference.

Each conversion names its canonical form (``Conversion.canon``, see
:mod:`vendzz_migrate.typemap.canonical`), which :mod:`vendzz_migrate.verify.pgcanon` computes
inside PostgreSQL with SQL (``Conversion.pg_canon_sql``), so equal meanings give equal bytes on
both sides. The SQLite side goes through the copier's *reference* conversions
(:meth:`Conversion.convert`, pure Python) and never through its SQL fast path, so verify is an
independent check of it. A row is hashed as the md5 of its canonical bytes
(:func:`row_bytes`), like ``pgcanon.row_sql``.
"""

from __future__ import annotations

import hashlib

from vendzz_migrate.typemap.convert import Canon, Conversion

# -- per column and per row ----------------------------------------------------------------


def column_canon(conv: Conversion) -> Canon:
    """The canonical value of one SQLite value of this column (None for NULL); raises Reject
    when the copier would have rejected the row, and applies on_error: null / wrap (the
    conversion's own rule: :meth:`Conversion.source_canon`)."""
    return conv.source_canon()


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
