"""The rollback's rule for one cell: a PostgreSQL value back into the SQLite encoding its column
used, checked against the forward conversion.

The rollback (``cutover --rollback``) carries rows written on PostgreSQL back into the SQLite
file, which the SQLite service must read exactly as it wrote them. Each conversion owns its
kind's reverse (:meth:`Conversion.encoding_of`, :meth:`Conversion.reverse`,
:meth:`Conversion.exact`, in :mod:`vendzz_migrate.typemap.conversions`); this module adds what
spans a column: :func:`column_encoding` finds a column's dominant encoding (among its most
recent rows), and :class:`Reverser` keeps the old SQLite value when it still means the
PostgreSQL value, else writes the new value in the old value's encoding (or the column's), and
checks that the forward conversion reads it back to the same canonical value (verify's). A
value that cannot come back unchanged raises :class:`Unfit` (e.g. a timestamp with microseconds
in an epoch-seconds column, a timestamp before 1973 in an epoch-milliseconds column, which the
forward rule would read as seconds).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from vendzz_migrate.source import qi
from vendzz_migrate.typemap.conversions.base import (
    Conversion,
    Encoding,
    PgValue,
    Reject,
    Unfit,
)
from vendzz_migrate.typemap.values import Raw

__all__ = [
    "Encoding",
    "PgValue",
    "Reverser",
    "Unfit",
    "back",
    "column_encoding",
    "dominant",
    "sqlite_value",
]
SAMPLE_ROWS = 500  # a column's encoding is the dominant one among its last rows written


def dominant(conv: Conversion, values: Iterable[Raw]) -> Encoding | None:
    """The most frequent encoding among ``values`` (None when all are NULL)."""
    counts = Counter(e for e in map(conv.encoding_of, values) if e is not None)
    return counts.most_common(1)[0][0] if counts else None


def column_encoding(
    conn: sqlite3.Connection,
    table: str,
    column: str,
    conv: Conversion,
    declared: str = "",
    sample: int = SAMPLE_ROWS,
) -> Encoding:
    """The dominant encoding of a SQLite column among its last ``sample`` non-NULL values
    (by rowid when the table has one), else the one its declared type suggests."""
    t, c = qi(table), qi(column)
    base = f"SELECT typeof({c}), CAST({c} AS BLOB) FROM {t} WHERE {c} IS NOT NULL"
    try:
        rows = conn.execute(f"{base} ORDER BY rowid DESC LIMIT {int(sample)}").fetchall()
    except sqlite3.OperationalError:  # WITHOUT ROWID
        rows = conn.execute(f"{base} LIMIT {int(sample)}").fetchall()
    raws = [_raw(storage, value) for storage, value in rows]
    return dominant(conv, raws) or conv.default_encoding(declared)


def _raw(storage: Any, value: Any) -> Raw:
    storage = storage.decode() if isinstance(storage, bytes) else str(storage)
    if storage in ("integer", "real"):
        number = bytes(value).decode() if isinstance(value, bytes | memoryview) else value
        return Raw(storage, int(number) if storage == "integer" else float(number))
    return Raw(storage, bytes(value))


class Reverser:
    """The rollback's rule for the cells of one column (canonical functions built once)."""

    def __init__(self, conv: Conversion, column: Encoding) -> None:
        self.conv, self.column = conv, column
        self._canon = conv.source_canon()
        self._candidates = [column, *conv.fallback_encodings()]

    def pg_canon(self, value: PgValue) -> str | None:
        """verify's canonical text of a PostgreSQL value of this column."""
        return self.conv.pg_canon(value)

    def canon(self, raw: Raw) -> str | None:
        """verify's canonical text of a SQLite value of this column (Reject: the copy would
        have refused it)."""
        return self._canon(raw)

    def same(self, raw: Raw, want: str | None) -> bool:
        try:
            return self._canon(raw) == want
        except Reject:
            return False

    def back(self, value: PgValue, old: Raw | None) -> Raw:
        """The SQLite value for one cell of a row carried back: the old value when it still
        means ``value``, else ``value`` in the old value's encoding (or the column's) that the
        forward conversion reads back to the same canonical value; else :class:`Unfit`.

        Fast path (no canonical forms computed): the value written in the old value's
        encoding is the old value byte for byte, or the row is new and the reverse conversion
        is exact by construction for this kind (:meth:`Conversion.exact`)."""
        if value is None and (old is None or old.kind == "null"):
            return old or Raw("null", None)
        if value is not None:
            enc = (self.conv.encoding_of(old) if old is not None else None) or self.column
            try:
                raw = self.conv.reverse(value, enc)
            except Unfit:
                raw = None
            if raw is not None and (raw == old or (old is None and self.conv.exact(raw))):
                return old if old is not None else raw
        return self._checked(value, old)

    def _checked(self, value: PgValue, old: Raw | None) -> Raw:
        want = self.pg_canon(value)
        if old is not None and self.same(old, want):
            return old
        if value is None:
            return Raw("null", None)
        enc = self.conv.encoding_of(old) if old is not None else None
        tried: list[str] = []
        for candidate in dict.fromkeys([enc or self.column, *self._candidates]):
            try:
                raw = self.conv.reverse(value, candidate)
            except Unfit as exc:
                tried.append(exc.reason)
                continue
            if self.same(raw, want):
                return raw
            tried.append(f"{_show(raw)} in {candidate} reads back as a different value")
        raise Unfit("; ".join(dict.fromkeys(tried)))


def back(conv: Conversion, value: PgValue, old: Raw | None, column: Encoding) -> Raw:
    """:meth:`Reverser.back` for one cell (tests, one-off callers)."""
    return Reverser(conv, column).back(value, old)


def _show(raw: Raw) -> str:
    value = raw.value.decode("utf-8", "replace") if isinstance(raw.value, bytes) else raw.value
    return f"{raw.kind} {str(value)[:40]!r}"


def sqlite_value(raw: Raw) -> int | float | str | bytes | None:
    """The Python value to bind so that SQLite stores ``raw`` with its storage class."""
    if raw.kind == "text":
        assert isinstance(raw.value, bytes)
        return raw.value.decode("utf-8", "surrogateescape")
    return raw.value
