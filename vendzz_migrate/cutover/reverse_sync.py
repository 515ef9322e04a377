"""Reverse delta sync: every key changed on PostgreSQL, written back into the SQLite file.

For each table, the keys the PostgreSQL capture logged (:mod:`.pg_capture`) are read in batches:
the current PostgreSQL row of each key (or its absence), and the SQLite row it replaces. A
present row is written into SQLite with the reverse conversions (:mod:`vendzz_migrate.typemap.
reverse`): each cell keeps its old SQLite value when that still means the PostgreSQL value, else
takes the new value in the old value's encoding (or the column's dominant one); new rows keep
their PostgreSQL ids. An absent row is deleted from SQLite. A row with a value the SQLite
encoding cannot hold is not written: it is listed (table, key, column, reason) and the caller
stops before switching back.

Writes go through sqlite-utils (``upsert_all`` / ``delete_where``), one short transaction per
batch of ``batch_rows`` keys, so the write lock is never held long and the service may keep
reading the file. Every batch is idempotent (it writes what PostgreSQL holds now), so after a
crash the whole sync simply runs again. :func:`verify_changed` then checks the other way round:
every changed key's SQLite row means what PostgreSQL holds, and row counts agree.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from vendzz_migrate.cutover.pg_capture import ChangedKeys
from vendzz_migrate.pg import ident, qualified
from vendzz_migrate.source import qi
from vendzz_migrate.typemap.convert import Kind, Reject
from vendzz_migrate.typemap.mapping import Mapping
from vendzz_migrate.typemap.reverse import (
    PgValue,
    Reverser,
    Unfit,
    column_encoding,
    sqlite_value,
)
from vendzz_migrate.typemap.values import Raw

if TYPE_CHECKING:
    import psycopg

BATCH_ROWS = 500
Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class Column:
    sqlite: str
    pg: str
    kind: Kind
    rule: Reverser


@dataclass(frozen=True, slots=True)
class TableLink:
    """One table in both files: names, key and the rule of each column."""

    sqlite: str
    pg: str
    key: tuple[Column, ...]
    columns: tuple[Column, ...]  # key columns included, generated columns left out


@dataclass(frozen=True, slots=True)
class UnfitRow:
    table: str
    key: dict[str, Any]
    column: str
    reason: str


@dataclass
class SyncResult:
    written: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    unfit: list[UnfitRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return (
            sum(self.written.values()) + sum(self.deleted.values()) + sum(self.unchanged.values())
        )


@dataclass(frozen=True, slots=True)
class KeyDiff:
    table: str
    key: dict[str, Any]
    column: str | None  # None: the row is missing on one side
    sqlite: str | None
    postgres: str | None


class RowCounts(NamedTuple):
    """A table's rows on both sides after the reverse sync (the copy's rejects aside)."""

    sqlite: int
    postgres: int
    rejects: int  # rows the copy quarantined: in SQLite, never in PostgreSQL


@dataclass
class ReverseVerify:
    diffs: list[KeyDiff] = field(default_factory=list)
    counts: dict[str, RowCounts] = field(default_factory=dict)
    checked_keys: int = 0

    @property
    def count_mismatches(self) -> dict[str, RowCounts]:
        return {t: c for t, c in self.counts.items() if c.sqlite != c.postgres + c.rejects}

    @property
    def ok(self) -> bool:
        return not self.diffs and not self.count_mismatches


def open_sqlite(path: Path, timeout_s: float = 10.0) -> sqlite3.Connection:
    """The SQLite file, read-write; values read as bytes so nothing is lost on the way."""
    conn = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False)
    conn.text_factory = bytes
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    return conn


def links(
    mapping: Mapping,
    lite: sqlite3.Connection,
    pg_keys: dict[str, tuple[str, ...]],
    only: Iterable[str] | None = None,
) -> dict[str, TableLink]:
    """Per PostgreSQL table name (all mapped tables, or those in ``only``), how its rows go
    back into SQLite."""
    wanted = None if only is None else set(only)
    out: dict[str, TableLink] = {}
    for name, tmap in mapping.tables.items():
        pg_name = mapping.target_table(name)
        if tmap.skip or (wanted is not None and pg_name not in wanted):
            continue
        declared, generated = _columns(lite, name)
        cols: list[Column] = []
        for cname, cmap in tmap.columns.items():
            if cname in generated or cname not in declared:
                continue
            conv = cmap.conversion()
            enc = column_encoding(lite, name, cname, conv, declared[cname])
            cols.append(Column(cname, cmap.rename or cname, conv.kind, Reverser(conv, enc)))
        by_pg = {c.pg: c for c in cols}
        key = tuple(by_pg[k] for k in pg_keys.get(pg_name, ()) if k in by_pg)
        out[pg_name] = TableLink(name, pg_name, key, tuple(cols))  # no key: carried whole
    return out


def _columns(lite: sqlite3.Connection, table: str) -> tuple[dict[str, str], set[str]]:
    """A SQLite table's columns (name -> declared type) and its generated columns."""
    rows = lite.execute(f"PRAGMA table_xinfo({qi(table)})").fetchall()
    return {_s(r[1]): _s(r[2]) for r in rows}, {_s(r[1]) for r in rows if int(r[6]) in (2, 3)}


def _s(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# -- reading both sides ---------------------------------------------------------------------------


def pg_rows(
    pg: psycopg.Connection[Any], schema: str, link: TableLink, keys: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, PgValue], dict[str, PgValue] | None]]:
    """For each key (a jsonb object of PostgreSQL key columns): its typed key values and the
    current PostgreSQL row (None when absent); jsonb columns as their text."""
    table = qualified(schema, link.pg)
    cols = ", ".join(
        f"t.{ident(c.pg)}::text" if c.kind is Kind.JSON else f"t.{ident(c.pg)}"
        for c in link.columns
    )
    key_cols = ", ".join(f"kk.{ident(c.pg)}" for c in link.key)
    join = " AND ".join(f"t.{ident(c.pg)} = kk.{ident(c.pg)}" for c in link.key)
    sql = (
        f"SELECT {key_cols}, t.ctid IS NOT NULL, {cols}"
        f" FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS k(key, ord)"
        f" CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, k.key) AS kk"
        f" LEFT JOIN {table} AS t ON {join} ORDER BY k.ord"
    )
    out: list[tuple[dict[str, PgValue], dict[str, PgValue] | None]] = []
    nkey = len(link.key)
    for row in pg.execute(sql.encode(), (json.dumps(list(keys)),)).fetchall():
        key = {c.pg: row[i] for i, c in enumerate(link.key)}
        present = row[nkey]
        values = dict(zip((c.pg for c in link.columns), row[nkey + 1 :], strict=True))
        out.append((key, values if present else None))
    return out


def sqlite_rows(
    lite: sqlite3.Connection, link: TableLink, keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Raw]]:
    """The SQLite rows of these keys (SQLite values), by key tuple."""
    if not keys:
        return {}
    cols = ", ".join(f"typeof({qi(c.sqlite)}), {qi(c.sqlite)}" for c in link.columns)
    key = ", ".join(qi(c.sqlite) for c in link.key)
    if len(link.key) == 1:  # a plain IN list: SQLite looks each key up in its index
        where = f"{key} IN ({', '.join('?' * len(keys))})"
    else:
        marks = ", ".join("(" + ", ".join("?" * len(link.key)) + ")" for _ in keys)
        where = f"({key}) IN (VALUES {marks})"
    sql = f"SELECT {cols} FROM {qi(link.sqlite)} WHERE {where}"
    params = [v for k in keys for v in k]
    found: dict[tuple[Any, ...], dict[str, Raw]] = {}
    positions = [next(i for i, c in enumerate(link.columns) if c is k) for k in link.key]
    for row in lite.execute(sql, params).fetchall():
        raws = {c.sqlite: Raw(_s(row[2 * i]), row[2 * i + 1]) for i, c in enumerate(link.columns)}
        found[tuple(_plain(raws[link.columns[p].sqlite]) for p in positions)] = raws
    return found


def _plain(raw: Raw) -> Any:
    return sqlite_value(raw) if raw.kind == "text" else raw.value


# -- writing --------------------------------------------------------------------------------------


def keys_to_carry(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    changed: ChangedKeys,
    tables: dict[str, TableLink],
    schema: str,
) -> dict[str, list[dict[str, Any]]]:
    """The changed keys per PostgreSQL table; a table truncated on PostgreSQL counts every key
    of both sides as changed."""
    out = {t: list(keys) for t, keys in changed.keys.items()}
    for name in changed.truncated:
        link = tables.get(name)
        if link is None or not link.key:
            continue  # a keyless table is carried whole (see sync_whole)
        seen = {json.dumps(k, sort_keys=True): k for k in out.get(name, [])}
        obj = ", ".join(f"'{c.pg.replace(chr(39), chr(39) * 2)}', {ident(c.pg)}" for c in link.key)
        for (key,) in pg.execute(
            f"SELECT jsonb_build_object({obj}) FROM {qualified(schema, link.pg)}".encode()
        ):
            seen.setdefault(json.dumps(key, sort_keys=True), key)
        cols = ", ".join(qi(c.sqlite) for c in link.key)
        for row in lite.execute(f"SELECT {cols} FROM {qi(link.sqlite)}"):
            key = {
                c.pg: _s(v) if isinstance(v, bytes) else v
                for c, v in zip(link.key, row, strict=True)
            }
            seen.setdefault(json.dumps(key, sort_keys=True), key)
        out[name] = list(seen.values())
    return out


def _sqlite_key(link: TableLink, key: dict[str, PgValue]) -> tuple[Any, ...]:
    return tuple(_plain(c.rule.back(key[c.pg], None)) for c in link.key)


def _batches(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sync(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    mapping: Mapping,
    changed: ChangedKeys,
    *,
    schema: str = "public",
    batch_rows: int = BATCH_ROWS,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SyncResult:
    """Carry every changed key of ``changed`` back into SQLite (see the module docstring)."""
    from vendzz_migrate.cutover.pg_capture import primary_keys

    started = time.perf_counter()
    result = SyncResult()
    tables = links(mapping, lite, primary_keys(pg, schema), {*changed.keys, *changed.truncated})
    for pg_table, keys in sorted(keys_to_carry(pg, lite, changed, tables, schema).items()):
        link = tables.get(pg_table)
        if link is None:
            continue  # not a mapped table (e.g. created after the copy): nothing to carry
        for batch in _batches(keys, batch_rows):
            _sync_batch(pg, lite, schema, link, batch, result, dry_run)
            if progress is not None:
                progress(pg_table, len(batch))
    for pg_table in sorted(changed.truncated):
        link = tables.get(pg_table)
        if link is not None and not link.key:
            sync_whole(pg, lite, schema, link, result, dry_run)
    result.seconds = time.perf_counter() - started
    return result


def _sync_batch(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    schema: str,
    link: TableLink,
    batch: Sequence[dict[str, Any]],
    result: SyncResult,
    dry_run: bool,
) -> None:
    pairs = pg_rows(pg, schema, link, batch)
    lite_keys = [_sqlite_key(link, key) for key, _ in pairs]
    old_rows = sqlite_rows(lite, link, lite_keys)
    upserts: list[dict[str, Raw]] = []
    deletes: list[tuple[Any, ...]] = []
    for (key, values), lite_key in zip(pairs, lite_keys, strict=True):
        old = old_rows.get(lite_key)
        if values is None:
            if old is not None:
                deletes.append(lite_key)
            else:
                _count(result.unchanged, link.sqlite)
            continue
        row = _row_back(link, key, values, old, result)
        if row is None:
            continue
        if old is not None and row == old:
            _count(result.unchanged, link.sqlite)
        else:
            upserts.append(row)
    if not dry_run:
        _write(lite, link, upserts, deletes)
    _count(result.written, link.sqlite, len(upserts))
    _count(result.deleted, link.sqlite, len(deletes))


def _row_back(
    link: TableLink,
    key: dict[str, PgValue],
    values: dict[str, PgValue],
    old: dict[str, Raw] | None,
    result: SyncResult,
) -> dict[str, Raw] | None:
    row: dict[str, Raw] = {}
    for col in link.columns:
        try:
            row[col.sqlite] = col.rule.back(values[col.pg], old.get(col.sqlite) if old else None)
        except Unfit as exc:
            result.unfit.append(UnfitRow(link.sqlite, _json_key(key), col.sqlite, exc.reason))
            return None
    return row


def _json_key(key: dict[str, PgValue]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
        for k, v in key.items()
    }


def _count(counter: dict[str, int], table: str, n: int = 1) -> None:
    if n:
        counter[table] = counter.get(table, 0) + n


def _write(
    lite: sqlite3.Connection,
    link: TableLink,
    upserts: list[dict[str, Raw]],
    deletes: list[tuple[Any, ...]],
) -> None:
    """One short transaction: deletes and upserts through sqlite-utils, then the rare text
    values that are not valid UTF-8 (kept from the old row) rewritten as text by plain SQL."""
    import sqlite_utils

    db = sqlite_utils.Database(lite)
    table = db.table(link.sqlite)
    pk = [c.sqlite for c in link.key]
    odd: list[tuple[str, bytes, tuple[Any, ...]]] = []
    records = []
    for row in upserts:
        record: dict[str, Any] = {}
        for name, raw in row.items():
            if raw.kind == "text" and not _utf8(raw):
                assert isinstance(raw.value, bytes)
                odd.append((name, raw.value, tuple(_plain(row[k]) for k in pk)))
                record[name] = None
            else:
                record[name] = sqlite_value(raw)
        records.append(record)
    lite.text_factory = str  # sqlite-utils reads names from the catalog as text
    try:
        _apply(lite, link, table, pk, records, deletes, odd)
    finally:
        lite.text_factory = bytes


def _apply(
    lite: sqlite3.Connection,
    link: TableLink,
    table: Any,
    pk: list[str],
    records: list[dict[str, Any]],
    deletes: list[tuple[Any, ...]],
    odd: list[tuple[str, bytes, tuple[Any, ...]]],
) -> None:
    with lite:
        if deletes:
            where = " OR ".join(
                "(" + " AND ".join(f"{qi(k)} = ?" for k in pk) + ")" for _ in deletes
            )
            table.delete_where(where, [v for key in deletes for v in key])
        if records:
            table.upsert_all(records, pk=pk if len(pk) > 1 else pk[0], batch_size=len(records))
        for name, value, key in odd:
            cond = " AND ".join(f"{qi(k)} = ?" for k in pk)
            lite.execute(
                f"UPDATE {qi(link.sqlite)} SET {qi(name)} = CAST(? AS TEXT) WHERE {cond}",
                (value, *key),
            )


def _utf8(raw: Raw) -> bool:
    assert isinstance(raw.value, bytes)
    try:
        raw.value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- tables without a primary key: carried whole, as multisets of rows ---------------------------


@dataclass
class _WholePlan:
    rows: int
    inserts: list[dict[str, PgValue]]
    deletes: list[int]  # SQLite rowids


def _whole_plan(
    pg: psycopg.Connection[Any], lite: sqlite3.Connection, schema: str, link: TableLink
) -> _WholePlan:
    """Which SQLite rows (by rowid) have no equal PostgreSQL row, and which PostgreSQL rows have
    no equal SQLite row (equal: verify's canonical form, column by column); SQLite rows the
    copy rejected (never in PostgreSQL) are left alone."""
    cols = ", ".join(
        f"{ident(c.pg)}::text" if c.kind is Kind.JSON else ident(c.pg) for c in link.columns
    )
    names = [c.pg for c in link.columns]
    pg_rows = [
        dict(zip(names, row, strict=True))
        for row in pg.execute(
            f"SELECT {cols} FROM {qualified(schema, link.pg)}".encode()
        ).fetchall()
    ]
    lite_cols = ", ".join(f"typeof({qi(c.sqlite)}), {qi(c.sqlite)}" for c in link.columns)
    spare: dict[tuple[str | None, ...], list[int]] = {}
    for row in lite.execute(f"SELECT rowid, {lite_cols} FROM {qi(link.sqlite)}"):
        try:
            canon = tuple(
                c.rule.canon(Raw(_s(row[1 + 2 * i]), row[2 + 2 * i]))
                for i, c in enumerate(link.columns)
            )
        except Reject:
            continue  # quarantined by the copy: not on PostgreSQL, stays in SQLite
        spare.setdefault(canon, []).append(int(row[0]))
    inserts: list[dict[str, PgValue]] = []
    for values in pg_rows:
        canon = tuple(c.rule.pg_canon(values[c.pg]) for c in link.columns)
        found = spare.get(canon)
        if found:
            found.pop()
        else:
            inserts.append(values)
    deletes = [rowid for ids in spare.values() for rowid in ids]
    return _WholePlan(len(pg_rows), inserts, deletes)


def sync_whole(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    schema: str,
    link: TableLink,
    result: SyncResult,
    dry_run: bool,
) -> None:
    """A table without a key, changed on PostgreSQL: SQLite rows equal to a PostgreSQL row stay
    as they are (byte for byte), the others are deleted, the missing rows inserted in the
    column's encodings; one transaction."""
    import sqlite_utils

    plan = _whole_plan(pg, lite, schema, link)
    records: list[dict[str, Any]] = []
    for values in plan.inserts:
        row = _row_back(link, {"row": len(records)}, values, None, result)
        if row is None:
            return  # listed as unfit: nothing of this table is written
        records.append({name: sqlite_value(raw) for name, raw in row.items()})
    _count(result.unchanged, link.sqlite, plan.rows - len(plan.inserts))
    _count(result.written, link.sqlite, len(records))
    _count(result.deleted, link.sqlite, len(plan.deletes))
    if dry_run or not (records or plan.deletes):
        return
    lite.text_factory = str
    try:
        with lite:
            for start in range(0, len(plan.deletes), 500):
                chunk = plan.deletes[start : start + 500]
                lite.execute(
                    f"DELETE FROM {qi(link.sqlite)} WHERE rowid IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            if records:
                sqlite_utils.Database(lite).table(link.sqlite).insert_all(records)
    finally:
        lite.text_factory = bytes


# -- verify, SQLite as the source of truth --------------------------------------------------------


def verify_changed(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    mapping: Mapping,
    changed: ChangedKeys,
    *,
    schema: str = "public",
    rejects: dict[str, int] | None = None,
    batch_rows: int = BATCH_ROWS,
    counts: bool = True,
) -> ReverseVerify:
    """Every changed key: the SQLite row means what PostgreSQL holds (verify's canonical form,
    column by column) or both are absent; and per mapped table, SQLite's row count is
    PostgreSQL's plus the rows the copy rejected (``rejects``, by SQLite table name)."""
    from vendzz_migrate.cutover.pg_capture import primary_keys

    report = ReverseVerify()
    tables = links(mapping, lite, primary_keys(pg, schema), {*changed.keys, *changed.truncated})
    for pg_table, keys in sorted(keys_to_carry(pg, lite, changed, tables, schema).items()):
        link = tables.get(pg_table)
        if link is None:
            continue
        for batch in _batches(keys, batch_rows):
            report.checked_keys += len(batch)
            _verify_batch(pg, lite, schema, link, batch, report)
    for pg_table in sorted(changed.truncated):
        link = tables.get(pg_table)
        if link is not None and not link.key:
            plan = _whole_plan(pg, lite, schema, link)
            report.checked_keys += plan.rows
            if plan.inserts or plan.deletes:
                report.diffs.append(
                    KeyDiff(
                        link.sqlite,
                        {},
                        None,
                        f"{len(plan.deletes)} row(s) not on PostgreSQL",
                        f"{len(plan.inserts)} row(s) not in SQLite",
                    )
                )
    for name, tmap in mapping.tables.items():
        if tmap.skip or not counts:
            continue
        n_lite = lite.execute(f"SELECT count(*) FROM {qi(name)}").fetchone()[0]
        row = pg.execute(
            f"SELECT count(*) FROM {qualified(schema, mapping.target_table(name))}".encode()
        ).fetchone()
        report.counts[name] = RowCounts(
            int(n_lite), int(row[0]) if row else 0, (rejects or {}).get(name, 0)
        )
    return report


def _verify_batch(
    pg: psycopg.Connection[Any],
    lite: sqlite3.Connection,
    schema: str,
    link: TableLink,
    batch: Sequence[dict[str, Any]],
    report: ReverseVerify,
) -> None:
    pairs = pg_rows(pg, schema, link, batch)
    lite_keys = [_sqlite_key(link, key) for key, _ in pairs]
    old_rows = sqlite_rows(lite, link, lite_keys)
    for (key, values), lite_key in zip(pairs, lite_keys, strict=True):
        row = old_rows.get(lite_key)
        if (row is None) != (values is None):
            report.diffs.append(
                KeyDiff(
                    link.sqlite,
                    _json_key(key),
                    None,
                    None if row is None else "present",
                    None if values is None else "present",
                )
            )
            continue
        if row is None or values is None:
            continue
        for col in link.columns:
            want = col.rule.pg_canon(values[col.pg])
            if not col.rule.same(row[col.sqlite], want):
                report.diffs.append(
                    KeyDiff(link.sqlite, _json_key(key), col.sqlite, _show(row[col.sqlite]), want)
                )
                break


def _show(raw: Raw) -> str:
    value = raw.value.decode("utf-8", "replace") if isinstance(raw.value, bytes) else raw.value
    return f"{raw.kind} {str(value)[:60]}"
