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
from collections.abc import Callable

from vendzz_migrate.typemap.canonical import wrapped_json
from vendzz_migrate.typemap.convert import Conversion, OnError, Reject
from vendzz_migrate.typemap.values import Raw

# -- per column and per row ----------------------------------------------------------------

Canon = Callable[[Raw], "str | None"]


def column_canon(conv: Conversion) -> Canon:
    """The canonical value of one SQLite value of this column (None for NULL); raises Reject
    when the copier would have rejected the row, and applies on_error: null / wrap."""
    finish = conv.canon
    not_null, policy = conv.not_null, conv.on_error

    def canon(raw: Raw) -> str | None:
        if raw.value is None:
            if not_null:
                raise Reject("NULL in a NOT NULL column")
            return None
        try:
            text = conv.convert(raw)
        except Reject:
            if policy is OnError.NULL:
                return None
            if policy is OnError.WRAP and raw.kind == "text":
                return wrapped_json(raw)
            raise
        return finish(text)

    return canon


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
