"""The canonical bytes of one SQLite value as read: the conversion's fast tier, else the reference.

Each conversion has at most one fast tier (see :mod:`vendzz_migrate.typemap.convert`): SQLite
SQL for the kinds SQLite can print (:mod:`vendzz_migrate.verify.litesql` builds whole rows
with it), or ``Conversion.fast_canon`` for the others (doubles' IEEE bits, jsonb's text by the
C extension). A value the tier is unsure of goes straight to the reference
(:func:`vendzz_migrate.verify.canon.column_canon`); the property tests hold both to what
PostgreSQL computes, and ``tests/verify/test_verify_tiers.py`` to taking the common values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.convert import Conversion, FastCanon, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import canon

try:  # verify's row loop in C (vendzz_migrate/_speed.c), built at install time when it can be
    from vendzz_migrate import _speed
except ImportError:  # no C compiler at install time: the same results, in Python, slower
    _speed = None  # type: ignore[assignment]

__all__ = ["FastCanon", "c_sums", "column_fast", "has_sums", "is_json"]

_KINDS = {b"null": "null", b"integer": "integer", b"real": "real", b"text": "text", b"blob": "blob"}
has_sums = _speed is not None and hasattr(_speed, "sums")  # not built without 128-bit integers


def c_sums(
    rows: Iterable[Any],
    ops: tuple[tuple[int, Any], ...],
    json: tuple[bool, ...],
    width: int,
    key: tuple[int, ...],
    marks: list[tuple[tuple[int, Any], ...]],
    rejected: set[int] | frozenset[int] | None,
    reject: type[Exception],
    segments: int,
) -> tuple[list[int], list[int], list[Any], int]:
    """The fast tier of :func:`vendzz_migrate.verify.lite.segment_sums`, in C (see
    ``_speed.c``): (rows, sum of row hashes) per segment of the rows it took, the rows it left
    to the reference, and how many it took. ``key``: the key's typeof slots in the rows;
    ``marks``: the segment starts as ``lite.order_key`` gives them."""
    return _speed.sums(rows, ops, json, width, key, marks, rejected, reject, segments)


def is_json(conv: Conversion) -> bool:
    """Whether the column's fast tier is jsonb's C printer, which the C row loop calls itself
    (no Python call) for the column's text values."""
    return conv.fast_canon() is canonical.jsonb_fast


def column_fast(conv: Conversion) -> FastCanon:
    """The canonical bytes of one SQLite value of this column (None for NULL); raises Reject
    exactly where :func:`canon.column_canon` does."""
    tier = conv.fast_canon()
    reference = canon.column_canon(conv)
    not_null = conv.not_null

    def fast(kind: bytes, value: Any) -> bytes | None:
        if value is None:
            if not_null:
                raise Reject("NULL in a NOT NULL column")
            return None
        if tier is not None:
            found = tier(kind, value)
            if found is not None:
                return found
        text = reference(Raw(_KINDS[kind], value))
        return None if text is None else _utf8(text)

    return fast


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Reject("text with a lone surrogate (PostgreSQL refuses it)") from None
