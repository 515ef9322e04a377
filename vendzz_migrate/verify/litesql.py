"""The canonical bytes that SQLite can compute itself, in C, for the simple values.

For text, integer, boolean, timestamp and blob columns, SQLite builds each value's part of the
canonical row (0xFF and the value's bytes, or 0xFE for NULL: see
:func:`vendzz_migrate.verify.canon.row_bytes`) with the conversion's verify SQL
(``Conversion.canon_sql``: not its copy SQL, a different encoding, written independently). A
value outside the simple form gives SQL NULL and the whole row takes the Python path; floats,
numerics and JSON always go through Python (SQLite cannot print IEEE bits or jsonb text).
SQLite does not look inside the values: Python does, once per row, at C speed
(:func:`assemble`): a text value holding a NUL byte (no PostgreSQL text can), or a 0xFF / 0xFE
byte (not UTF-8; it would blur the row's layout), sends its row to the Python path. A file
whose text is not stored as UTF-8 takes the Python path for every value.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vendzz_migrate.source import qi
from vendzz_migrate.typemap.convert import Conversion, Reject
from vendzz_migrate.verify.canon import NULL, VALUE
from vendzz_migrate.verify.fast import FastCanon, is_json
from vendzz_migrate.verify.spec import Spec


def piece_sql(col: str, conv: Conversion) -> str | None:
    """SQLite expression for the column's piece, NULL when Python must decide; None when this
    type has no SQL form (``Conversion.canon_sql``). One ``CASE typeof(c)``: SQLite evaluates
    typeof() once per value (an ``IS NULL`` test and a ``typeof() IN (...)`` list cost a
    third more in all)."""
    c = qi(col)
    branches = conv.canon_sql(c)
    if branches is None:
        return None
    null = "" if conv.not_null else " WHEN 'null' THEN X'FE'"
    return f"CASE typeof({c}) {branches}{null} END"


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
    sql = (
        f"SELECT {', '.join(select)} FROM {qi(spec.name)}{' ORDER BY ' + order if ordered else ''}"
    )
    plain = len(key_slots) == 1 and spec.columns[spec.key_pos[0]].conversion.text_is_canon
    json.extend([False] * (len(ops) - len(json)))
    return RowPlan(
        sql,
        tuple(ops),
        tuple(key_slots),
        tuple(spec.canons[p] for p in spec.key_pos),
        len(spec.columns),
        key_slots[0] if plain else None,
        tuple(json),
    )


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
