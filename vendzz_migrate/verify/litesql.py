"""The canonical bytes that SQLite can compute itself, in C, for the simple values.

For text, integer, boolean, epoch-integer timestamp and blob columns, SQLite builds each value's
part of the canonical row (0xFF and the value's bytes, or 0xFE for NULL: see
:func:`vendzz_migrate.verify.canon.row_bytes`) with this module's own SQL (not the copier's: a
different encoding, written independently). A value outside the simple form gives SQL NULL and
the whole row takes the Python path; floats, numerics and JSON always go through Python (SQLite
cannot print IEEE bits or jsonb text). SQLite does not look inside the values: Python does, once
per row, at C speed (:func:`assemble`): a text value holding a NUL byte (no PostgreSQL text can),
or a 0xFF / 0xFE byte (not UTF-8; it would blur the row's layout), sends its row to the Python
path. A file whose text is not stored as UTF-8 takes the Python path for every value.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vendzz_migrate.source import qi
from vendzz_migrate.typemap.convert import (
    ISO_Z_GLOB,
    MS_LIMIT,
    SECONDS_LIMIT,
    SQL_DATETIME_GLOB,
    Conversion,
    Kind,
    Reject,
)
from vendzz_migrate.verify import canon
from vendzz_migrate.verify.canon import NULL, VALUE
from vendzz_migrate.verify.fast import MAX_MICROS, MIN_MICROS, FastCanon, is_json, plain_text
from vendzz_migrate.verify.spec import Spec


def piece_sql(col: str, conv: Conversion) -> str | None:
    """SQLite expression for the column's piece, NULL when Python must decide; None when this
    type has no SQL form. One ``CASE typeof(c)``: SQLite evaluates typeof() once per value
    (an ``IS NULL`` test and a ``typeof() IN (...)`` list cost a third more in all)."""
    c = qi(col)
    simple = _simple_sql(c, conv)
    if simple is None:
        return None
    null = "" if conv.not_null else " WHEN 'null' THEN X'FE'"
    return f"CASE typeof({c}) {simple}{null} END"


INT64 = (-(2**63), 2**63 - 1)
LARGE_BLOB = 1 << 20  # bytes; larger blobs are hashed by Python (see _simple_sql)


def _simple_sql(c: str, conv: Conversion) -> str | None:
    """The ``WHEN`` branches of :func:`piece_sql` by storage class; each mirrors its Python
    twin in :mod:`vendzz_migrate.verify.fast`."""
    kind = conv.kind
    if kind is Kind.TEXT and getattr(conv, "max_length", None) is None \
            and not canon.UUID_TYPE.fullmatch(conv.pg_type):
        # an integer in a text column: its decimal text; NUL, 0xFF and 0xFE bytes are left
        # to Python, once per row (see :func:`assemble`)
        return f"WHEN 'text' THEN X'FF' || {c} WHEN 'integer' THEN X'FF' || {c}"
    if kind is Kind.INTEGER:
        low, high = getattr(conv, "low", INT64[0]), getattr(conv, "high", INT64[1])
        if (low, high) == INT64:
            return f"WHEN 'integer' THEN X'FF' || {c}"
        return f"WHEN 'integer' THEN CASE WHEN {c} BETWEEN {low} AND {high} THEN X'FF' || {c} END"
    if kind is Kind.BOOLEAN:
        return (f"WHEN 'integer' THEN CASE {c} WHEN 1 THEN X'FF74727565'"  # 0xFF 'true'
                f" WHEN 0 THEN X'FF66616C7365' END")  # 0xFF 'false'
    if kind is Kind.TIMESTAMP:
        # fast._timestamp: |v| below SECONDS_LIMIT is seconds, else below MS_LIMIT is
        # milliseconds; the microseconds must fall in [MIN_MICROS, MAX_MICROS], or Python decides
        branches = []
        for limit, scale in ((SECONDS_LIMIT, 1_000_000), (MS_LIMIT, 1_000)):
            low = max(-(limit - 1), -(-MIN_MICROS // scale))  # ceil(MIN_MICROS / scale)
            high = min(limit - 1, MAX_MICROS // scale)
            branches.append(f"WHEN {c} > -{limit} AND {c} < {limit} THEN CASE WHEN {c} BETWEEN"
                            f" {low} AND {high} THEN X'FF' || ({c} * {scale}) END")
        return f"WHEN 'integer' THEN CASE {' '.join(branches)} END{_text_timestamp_sql(c)}"
    if kind is Kind.BYTES:
        # a large blob goes the Python path: SQLite would hold its hex text several times
        # over (hex, lower, the concatenations), 10x the value in all (length() is free)
        return (f"WHEN 'blob' THEN CASE WHEN length({c}) <= {LARGE_BLOB} THEN"
                f" X'FF' || lower(hex({c})) END")
    return None


def _text_timestamp_sql(c: str) -> str:
    """fast._text_timestamp in SQL: the two text forms the service writes, JavaScript's
    ``toISOString()`` (``2025-06-20T17:31:04.000Z``) and SQLite's ``CURRENT_TIMESTAMP``
    (``2025-06-20 17:31:04``), as epoch microseconds; a date SQLite would normalise (Feb 30,
    24:00) or year 0000 (Python refuses it) gives NULL, and Python decides."""
    iso, plain = f"substr({c}, 1, 19)", f"replace(substr({c}, 1, 19), 'T', ' ')"
    valid = f"substr({c}, 1, 4) <> '0000' AND datetime({iso}, '+0 seconds') = {plain}"
    seconds = f"CAST(strftime('%s', {iso}) AS INTEGER) * 1000000"
    return (f" WHEN 'text' THEN CASE WHEN {c} GLOB '{ISO_Z_GLOB}' AND {valid} THEN X'FF' ||"
            f" ({seconds} + CAST(substr({c}, 21, 3) AS INTEGER) * 1000)"
            f" WHEN {c} GLOB '{SQL_DATETIME_GLOB}' AND {valid} THEN X'FF' || ({seconds}) END")


Op = tuple[int, "FastCanon | None"]  # (slot in the row, Python canon or None for a SQL group)


@dataclass(frozen=True)
class RowPlan:
    """The SELECT of one table and how to assemble each row's canonical bytes from it.

    Consecutive columns that SQLite can encode are concatenated by SQLite into ONE result
    column (a NULL piece makes the whole group NULL: the row then takes the Python path), so a
    row of simple values reaches Python as a single bytes object, ready to hash."""

    sql: str
    ops: tuple[Op, ...]
    key_slots: tuple[int, ...]  # typeof/value pairs of the key columns
    key_canons: tuple[FastCanon, ...]
    width: int  # columns in the row: one 0xFF / 0xFE marker each
    text_key: int | None = None  # the slot of a one-column key whose text is its canon
    # per op: a JSON column (fast.is_json), whose text values the C row loop prints itself
    json: tuple[bool, ...] = ()

    @functools.cached_property
    def single(self) -> int | None:
        """The slot of the one SQL group that is the whole row, if that is the plan."""
        if len(self.ops) == 1 and self.ops[0][1] is None:
            return self.ops[0][0]
        return None


def row_plan(spec: Spec, *, ordered: bool, utf8: bool = True) -> RowPlan:
    """The row plan of ``spec``: SQL groups where SQLite can encode, Python elsewhere;
    everything in Python when the file's text is not stored as UTF-8 (``utf8``: see
    :func:`utf8`), as SQLite would then build the pieces in UTF-16."""
    pieces = [piece_sql(c.source, c.conversion) if utf8 else None for c in spec.columns]
    select = [spec.rowid if spec.has_rowid else "NULL"]
    key_slots = []
    for name in spec.key_columns:
        key_slots.append(len(select))
        select += [f"typeof({qi(name)})", qi(name)]
    ops: list[Op] = []
    group: list[str] = []

    def close() -> None:
        if group:
            ops.append((len(select), None))
            select.append(" || ".join(f"({p})" for p in group))
            group.clear()

    json: list[bool] = []
    for col, piece, fast in zip(spec.columns, pieces, spec.canons, strict=True):
        if piece is not None:
            group.append(piece)
            continue
        close()
        json.extend([False] * (len(ops) - len(json)))
        json.append(is_json(col.conversion))
        ops.append((len(select), fast))
        select += [f"typeof({qi(col.source)})", qi(col.source)]
    close()
    order = ", ".join(qi(c) for c in spec.key_columns) or (spec.rowid if spec.has_rowid else "1")
    sql = (f"SELECT {', '.join(select)} FROM {qi(spec.name)}"
           f"{' ORDER BY ' + order if ordered else ''}")
    plain = len(key_slots) == 1 and plain_text(spec.columns[spec.key_pos[0]].conversion)
    json.extend([False] * (len(ops) - len(json)))
    return RowPlan(sql, tuple(ops), tuple(key_slots),
                   tuple(spec.canons[p] for p in spec.key_pos), len(spec.columns),
                   key_slots[0] if plain else None, tuple(json))


def utf8(conn: sqlite3.Connection) -> bool:
    """Whether the file stores its text as UTF-8 (SQLite's ``PRAGMA encoding``)."""
    found = conn.execute("PRAGMA encoding").fetchone()[0]
    return (found.decode() if isinstance(found, bytes) else str(found)) == "UTF-8"


def assemble(plan: RowPlan, row: Sequence[Any]) -> bytes | None:
    """The row's canonical bytes, or None when a value needs the full Python path: a NUL byte
    anywhere, or not exactly one 0xFF / 0xFE marker per column (a raw SQLite value holding
    such a byte is not UTF-8, and would blur where values begin)."""
    width = plan.width
    if plan.single is not None:
        data = row[plan.single]
        if data is None or b"\x00" in data or data.count(VALUE) + data.count(NULL) != width:
            return None
        return data  # type: ignore[no-any-return]
    parts: list[bytes] = []
    for slot, fast in plan.ops:
        if fast is None:
            piece = row[slot]
            if piece is None:
                return None
            parts.append(piece)
            continue
        try:
            value = fast(row[slot], row[slot + 1])
        except Reject:
            return None
        parts.append(NULL if value is None else VALUE + value)
    data = b"".join(parts)
    if b"\x00" in data or data.count(VALUE) + data.count(NULL) != width:
        return None
    return data


def key_of(plan: RowPlan, row: Sequence[Any]) -> tuple[str, ...] | None:
    if plan.text_key is not None and row[plan.text_key] == b"text":  # the usual nanoid key
        value = row[plan.text_key + 1]
        if b"\x00" in value:
            return None
        try:
            return (value.decode("utf-8"),)
        except UnicodeDecodeError:
            return None
    key = []
    for slot, fast in zip(plan.key_slots, plan.key_canons, strict=True):
        try:
            value = fast(row[slot], row[slot + 1])
        except Reject:
            return None
        if value is None:
            return None
        key.append(value.decode("utf-8"))
    return tuple(key)


def raw_key(plan: RowPlan, row: Sequence[Any]) -> tuple[tuple[bytes, Any], ...]:
    return tuple((row[s], row[s + 1]) for s in plan.key_slots)
