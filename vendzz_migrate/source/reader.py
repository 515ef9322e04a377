"""Reading one table of the snapshot in key-ordered units, as ready-made COPY lines.

Every row of a unit comes out of exactly one of two queries over the same key range:
- the fast query, where SQLite checks and formats every value itself (one bytes line per row);
- the slow query, the rows with at least one unusual value, returned raw for Python to convert.
Both are filtered by the same predicate wrapped in ``coalesce(..., 0)``, so a NULL verdict can
never drop a row from both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import qi
from vendzz_migrate.source.introspect import Table
from vendzz_migrate.typemap.convert import Conversion, finish_line, line_sql
from vendzz_migrate.typemap.values import Raw, decode_raw, encode_raw

KeyTuple = tuple[Raw, ...]
ROWID_ALIASES = ("rowid", "_rowid_", "oid")


@dataclass(frozen=True)
class ColumnPlan:
    source: str
    target: str
    conversion: Conversion


@dataclass(frozen=True)
class TablePlan:
    table: Table
    target: str
    columns: tuple[ColumnPlan, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """What orders and splits the table: rowid, or the key of a WITHOUT ROWID table."""
        return self.table.primary_key if self.table.without_rowid else (self.rowid,)

    @property
    def rowid(self) -> str:
        """A name of the rowid that no column shadows (a column may be called ``rowid``)."""
        names = {c.name.lower() for c in self.table.columns}
        for alias in ROWID_ALIASES:
            if alias not in names:
                return alias
        raise SourceError(
            f"table {self.table.name!r} has columns named rowid, _rowid_ and oid:"
            " its rows cannot be addressed"
        )

    @property
    def identity_keys(self) -> tuple[str, ...]:
        """What identifies a row to a human (rejects, verify): the primary key, else rowid."""
        return self.table.primary_key or (self.rowid,)


def _key_sql(keys: Sequence[str]) -> str:
    return ", ".join(k if k in ROWID_ALIASES else qi(k) for k in keys)


def bind(raw: Raw) -> tuple[str, Any]:
    """Placeholder and parameter for one key part: text compared as TEXT (the bytes value
    would otherwise bind as a BLOB, which sorts after every text)."""
    return ("CAST(? AS TEXT)", raw.value) if raw.kind == "text" else ("?", raw.value)


def range_clause(
    keys: Sequence[str],
    lo: KeyTuple | None,
    hi: KeyTuple | None,
    excluded: Sequence[KeyTuple] = (),
    *,
    from_lo: bool = False,
) -> tuple[str, list[Any]]:
    """WHERE clause for lo < key <= hi (row values), or lo <= key < hi with ``from_lo``,
    minus excluded keys."""
    cols = f"({_key_sql(keys)})"
    parts: list[str] = ["1"]
    params: list[Any] = []
    for bound, op in ((lo, ">=" if from_lo else ">"), (hi, "<" if from_lo else "<=")):
        if bound is not None:
            binds = [bind(r) for r in bound]
            parts.append(f"{cols} {op} ({', '.join(b[0] for b in binds)})")
            params.extend(b[1] for b in binds)
    if excluded:
        rows = []
        for key in excluded:
            binds = [bind(r) for r in key]
            rows.append(f"({', '.join(b[0] for b in binds)})")
            params.extend(b[1] for b in binds)
        parts.append(f"{cols} NOT IN (VALUES {', '.join(rows)})")
    return " AND ".join(parts), params


def key_clause(keys: Sequence[str], key: KeyTuple) -> tuple[str, list[Any]]:
    """WHERE clause selecting exactly the row with ``key``."""
    binds = [bind(r) for r in key]
    return (f"({_key_sql(keys)}) = ({', '.join(b[0] for b in binds)})", [b[1] for b in binds])


def encode_key(key: KeyTuple) -> list[Any]:
    return [encode_raw(r) for r in key]


def decode_key(data: list[Any] | None) -> KeyTuple | None:
    return None if data is None else tuple(decode_raw(d) for d in data)


def _typed_keys(keys: Sequence[str]) -> str:
    return ", ".join(f"typeof({k}), {k}" for k in (_key_sql([x]) for x in keys))


def _raw(kind: bytes | str, value: Any) -> Raw:
    """A value and its typeof() (bytes, since the snapshot is read with text_factory=bytes)."""
    return Raw(kind.decode() if isinstance(kind, bytes) else kind, value)


def _key_of(row: Sequence[Any], width: int) -> KeyTuple:
    return tuple(_raw(row[2 * i], row[2 * i + 1]) for i in range(width))


def boundaries(conn: sqlite3.Connection, plan: TablePlan, batch_rows: int) -> list[KeyTuple]:
    """Every ``batch_rows``-th key in key order: the upper bounds of all units but the last."""
    if not plan.table.without_rowid:  # rowid order: hop batch_rows keys at a time in C
        key, out = _key_sql(plan.keys[:1]), list[KeyTuple]()
        table = qi(plan.table.name)
        while True:
            after = f" WHERE {key} > ?" if out else ""
            params = [out[-1][0].value] if out else []
            row = conn.execute(
                f"SELECT {_typed_keys(plan.keys[:1])} FROM {table}{after}"
                f" ORDER BY {key} LIMIT 1 OFFSET ?",
                [*params, batch_rows - 1],
            ).fetchone()
            if row is None:
                return out
            out.append(_key_of(row, 1))
    keys = _key_sql(plan.keys)
    named = ", ".join(f"{k} AS {k}" if k in ROWID_ALIASES else qi(k) for k in plan.keys)
    sql = (
        f"SELECT {_typed_keys(plan.keys)} FROM (SELECT {named}, row_number() OVER"
        f" (ORDER BY {keys}) AS vz_rn FROM {qi(plan.table.name)}) WHERE vz_rn % ? = 0"
        f" ORDER BY {keys}"
    )
    return [_key_of(row, len(plan.keys)) for row in conn.execute(sql, (batch_rows,))]


def _line(plan: TablePlan) -> str:
    """The fast line and its NULL count (see :func:`convert.line_sql`), as two columns."""
    line, nulls = line_sql([(qi(c.source), c.conversion) for c in plan.columns])
    return f"{line}, {nulls}"


def unit_rows(
    conn: sqlite3.Connection, plan: TablePlan, where: str, params: list[Any]
) -> Iterator[tuple[Any, bytes | None]]:
    """(key, COPY line) for every row of the range in one scan; the line is None when a value
    is not in its usual form, or holds a tab, a NUL or a 0xFF byte (see :func:`finish_line`):
    the row is then read raw, by :func:`raw_values`, for Python.

    Keys come back cheaply: the bare rowid (an int) for rowid tables, a KeyTuple otherwise;
    :func:`to_key` makes a KeyTuple of either."""
    line = _line(plan)
    count = len(plan.columns)
    if plan.table.without_rowid:
        sql = (
            f"SELECT {_typed_keys(plan.keys)}, {line} FROM {qi(plan.table.name)}"
            f" WHERE {where} ORDER BY {_key_sql(plan.keys)}"
        )
        width = len(plan.keys)
        for row in conn.execute(sql, params):
            text = row[2 * width]
            yield (
                _key_of(row, width),
                None if text is None else finish_line(text, count, row[2 * width + 1]),
            )
        return
    rowid = plan.keys[0]
    sql = f"SELECT {rowid}, {line} FROM {qi(plan.table.name)} WHERE {where} ORDER BY {rowid}"
    for key, text, nulls in conn.execute(sql, params):
        yield key, None if text is None else finish_line(text, count, nulls)


def to_key(key: Any) -> KeyTuple:
    """A KeyTuple from what :func:`unit_rows` yields."""
    return key if isinstance(key, tuple) else (Raw("integer", key),)


def raw_values(conn: sqlite3.Connection, plan: TablePlan, key: KeyTuple) -> list[Raw]:
    """The raw values of the planned columns of one row."""
    where, params = key_clause(plan.keys, key)
    cols = ", ".join(f"typeof({qi(c.source)}), {qi(c.source)}" for c in plan.columns)
    row = conn.execute(
        f"SELECT {cols or '1, 1'} FROM {qi(plan.table.name)} WHERE {where}", params
    ).fetchone()
    return [_raw(row[i], row[i + 1]) for i in range(0, 2 * len(plan.columns), 2)]


def count(conn: sqlite3.Connection, plan: TablePlan, where: str, params: list[Any]) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {qi(plan.table.name)} WHERE {where}", params
    ).fetchone()
    return int(row[0])


def first_key(
    conn: sqlite3.Connection,
    plan: TablePlan,
    where: str,
    params: list[Any],
    column: str,
    value: str,
) -> KeyTuple | None:
    """The first key (key order) of the range whose ``column`` equals ``value``."""
    keys = _key_sql(plan.keys)
    row = conn.execute(
        f"SELECT {_typed_keys(plan.keys)} FROM {qi(plan.table.name)}"
        f" WHERE ({where}) AND {qi(column)} = ? ORDER BY {keys} LIMIT 1",
        [*params, value],
    ).fetchone()
    return None if row is None else _key_of(row, len(plan.keys))


def raw_row(
    conn: sqlite3.Connection,
    plan: TablePlan,
    key: KeyTuple,
    columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every stored column of one row (or only ``columns``), encoded losslessly."""
    where, params = key_clause(plan.keys, key)
    names = [c.name for c in plan.table.stored_columns] if columns is None else list(columns)
    cols = ", ".join(f"typeof({qi(n)}), {qi(n)}" for n in names)
    row = conn.execute(f"SELECT {cols} FROM {qi(plan.table.name)} WHERE {where}", params).fetchone()
    return {n: encode_raw(_raw(row[2 * i], row[2 * i + 1])) for i, n in enumerate(names)}


def _plain(encoded: dict[str, Any]) -> Any:
    """A JSON value for a key part: text and integers plainly, anything odd still encoded."""
    if encoded["type"] == "integer":
        return int(encoded["value"])
    return encoded["value"] if encoded["type"] == "text" and "value" in encoded else encoded


def identity(conn: sqlite3.Connection, plan: TablePlan, key: KeyTuple) -> dict[str, Any]:
    """The human identity of a row (primary key values, else rowid), JSON-safe."""
    if plan.keys == plan.identity_keys:
        return {k: _plain(encode_raw(r)) for k, r in zip(plan.keys, key, strict=True)}
    data = raw_row(conn, plan, key, plan.identity_keys)  # the key's columns only
    found = {k: _plain(data[k]) for k in plan.identity_keys}
    return found | {"rowid": key[0].value}
