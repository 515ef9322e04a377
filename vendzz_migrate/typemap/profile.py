"""Column profiles, computed by SQLite itself (typeof() mix, integer range, text length, JSON
validity and double encoding, epoch s / ms vs ISO vs SQL datetime text, 0/1 flags, '' vs NULL,
NUL bytes).

One scan covers all the columns of a table over a range of rowids: a CASE gives each value's
class as one letter, group_concat() strings the letters (no sort; Python counts them), and
plain min / max / length aggregates, guessed from the affinity, give the statistics when the
classes show that the column holds one storage class (else one more scan computes them with
a typeof() test per value). Tables too large for ranges (no rowid, or sparse rowids) fall
back to a GROUP BY per column.

A value over ``pieces.LARGE_BYTES`` is never loaded: the reader is bound (``pieces.bound``),
so SQLite stops a scan that meets one before it reads it (each class test would load a copy:
4 to 6 copies of a 100 MB text). The scan is then split in halves, down to the row that holds
it (:func:`_apart`); that row's values are profiled one column at a time, and the large one
is classed from its bytes read in pieces (:mod:`bigvalue`): memory holds a few pieces.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from vendzz_migrate.source import pieces, qi, reader
from vendzz_migrate.source.introspect import Column, Table
from vendzz_migrate.typemap import bigvalue
from vendzz_migrate.typemap.values import Raw

EPOCH_S = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 in seconds
EPOCH_MS = (EPOCH_S[0] * 1000, EPOCH_S[1] * 1000)
_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*"
_DATE_START = re.compile(rb"[0-9]{4}-[0-1][0-9]-[0-3][0-9]")  # the GLOB, on a text's bytes
TIME_NAME = re.compile(
    r"(?i)(_at|At|_date|Date|_time|Time|timestamp|expires|Expires)$"
    r"|^(created|updated|deleted|expires)"
)


@dataclass
class ColumnProfile:
    rows: int = 0
    nulls: int = 0
    integers: int = 0
    reals: int = 0
    texts: int = 0
    blobs: int = 0
    int_min: int | None = None
    int_max: int | None = None
    zero_one: int = 0
    empty: int = 0
    max_length: int | None = None
    json_container: int = 0
    json_double: int = 0
    json_scalar: int = 0
    iso_text: int = 0
    date_only: int = 0
    epoch_s: int = 0
    epoch_ms: int = 0
    real_2dp: int = 0
    real_max_abs: float | None = None
    nul_bytes: int = 0
    numeric_text: int = 0
    special_float_text: int = 0

    @property
    def non_null(self) -> int:
        return self.rows - self.nulls

    def summary(self) -> str:
        """A one-line human summary for the mapping file's ``note``."""
        parts = [f"{self.rows} rows"]
        for label, value in (
            ("null", self.nulls),
            ("integer", self.integers),
            ("real", self.reals),
            ("text", self.texts),
            ("blob", self.blobs),
            ("empty ''", self.empty),
            ("epoch s", self.epoch_s),
            ("epoch ms", self.epoch_ms),
            ("ISO/SQL text", self.iso_text),
            ("JSON", self.json_container),
            ("double-encoded", self.json_double),
            ("NUL", self.nul_bytes),
        ):
            if value:
                parts.append(f"{label} {value}")
        if self.int_min is not None:
            parts.append(f"int {self.int_min}..{self.int_max}")
        if self.max_length is not None:
            parts.append(f"max length {self.max_length}")
        return ", ".join(parts)


def time_like(col: Column) -> bool:
    """A column that may hold timestamps: by declared type or by name."""
    return any(t in col.decl_type.upper() for t in ("DATE", "TIME")) or bool(
        TIME_NAME.search(col.name)
    )


_FIELDS = {  # class -> the ColumnProfile counters it adds to
    "null": ("nulls",),
    "int01": ("integers", "zero_one"),
    "int": ("integers",),
    "int_s": ("integers", "epoch_s"),
    "int_ms": ("integers", "epoch_ms"),
    "real": ("reals",),
    "real2": ("reals", "real_2dp"),
    "real_s": ("reals", "epoch_s"),
    "real_ms": ("reals", "epoch_ms"),
    "empty": ("texts", "empty"),
    "nul": ("texts", "nul_bytes"),
    "json_c": ("texts", "json_container"),
    "json_s": ("texts", "json_scalar"),
    "json_d": ("texts", "json_scalar", "json_double"),
    "date": ("texts", "iso_text", "date_only"),
    "iso": ("texts", "iso_text"),
    "num": ("texts", "numeric_text"),
    "special": ("texts", "special_float_text"),
    "text": ("texts",),
    "blob": ("blobs",),
}
# each class is written by SQL as one letter, so a column's classes fit in one group_concat()
_CODE = {cls: chr(ord("a") + i) for i, cls in enumerate(_FIELDS)}
_CLASS = {code: cls for cls, code in _CODE.items()}


def _class_sql(col: Column) -> str:
    """One CASE per value giving its class (a letter of ``_CODE``).

    CASE, not AND: SQLite may evaluate both sides of AND, and json_type() raises on bad JSON.
    Costly tests run only where they can matter: JSON parsing for text-like columns and only
    on text that starts a JSON container or string, timestamp classes for time-like columns.
    Text that starts with '{', '[' or '"' (unicode() of the first character: no substring is
    made) is JSON or plain text: no date, number or infinity starts so, and valid JSON that
    starts with '{' / '[' is an object / array (json_type() only for JSON strings). The NUL
    test looks at the stored bytes (CAST AS BLOB), as it always did: in a UTF-16 file that
    classes most text as NUL-bearing, and a profile must not change with this rewrite.
    """
    c = qi(col.name)

    def q(cls: str) -> str:
        return f"'{_CODE[cls]}'"

    timey = time_like(col)
    s_range = f"BETWEEN {EPOCH_S[0]} AND {EPOCH_S[1]}"
    ms_range = f"BETWEEN {EPOCH_MS[0]} AND {EPOCH_MS[1]}"

    def epoch(kind: str) -> str:
        return (
            f"WHEN {c} {s_range} THEN {q(kind + '_s')} WHEN {c} {ms_range} THEN {q(kind + '_ms')}"
            if timey
            else ""
        )

    # numbers written as text only matter to REAL/NUMERIC columns (and cost a scan of text)
    numbers = (
        f"WHEN length({c}) < 40 AND {c} GLOB '*[0-9]*' AND NOT {c} GLOB '*[^0-9.eE+-]*'"
        f" THEN {q('num')} WHEN length({c}) < 12 AND lower(trim({c})) IN ('infinity',"
        f" '+infinity', '-infinity', 'inf', '+inf', '-inf', 'nan') THEN {q('special')}"
        if col.affinity in ("REAL", "NUMERIC")
        else ""
    )
    dates = (
        f"WHEN {c} GLOB '{_DATE_GLOB}' AND julianday({c}) IS NOT NULL THEN"
        f" CASE WHEN length({c}) = 10 THEN {q('date')} ELSE {q('iso')} END"
        if timey
        else ""
    )
    plain = f"CASE {dates} {numbers} ELSE {q('text')} END" if dates or numbers else q("text")
    if col.affinity in ("TEXT", "BLOB", "NUMERIC"):
        inner = f"json_extract({c}, '$')"
        container = f"CASE WHEN json_valid({c}) THEN {q('json_c')} ELSE {q('text')} END"
        string = (
            f"CASE WHEN NOT json_valid({c}) THEN {q('text')} WHEN json_valid({inner}) THEN"
            f" CASE WHEN json_type({inner}) IN ('object', 'array', 'text') THEN"
            f" {q('json_d')} ELSE {q('json_s')} END ELSE {q('json_s')} END"
        )
        plain = (
            f"CASE unicode({c}) WHEN 123 THEN {container} WHEN 91 THEN {container}"
            f" WHEN 34 THEN {string} ELSE {plain} END"
        )
    return (
        f"CASE typeof({c})"
        f" WHEN 'text' THEN CASE WHEN {c} = '' THEN {q('empty')}"
        f" WHEN instr(CAST({c} AS BLOB), X'00') > 0 THEN {q('nul')} ELSE {plain} END"
        f" WHEN 'integer' THEN CASE WHEN {c} IN (0, 1) THEN {q('int01')} {epoch('int')}"
        f" ELSE {q('int')} END"
        f" WHEN 'null' THEN {q('null')}"
        f" WHEN 'real' THEN CASE {epoch('real')} WHEN round({c}, 2) = {c} THEN {q('real2')}"
        f" ELSE {q('real')} END"
        f" ELSE {q('blob')} END"
    )


def _exact_stats_sql(c: str) -> str:
    return (
        f"min(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
        f" max(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
        f" max(CASE WHEN typeof({c}) = 'text' THEN length({c}) END),"
        f" max(CASE WHEN typeof({c}) = 'real' THEN abs({c}) END)"
    )


# Aggregates without a per-row typeof() test, by affinity: exact whenever the column's non-NULL
# values are all of the storage class the affinity makes likely (checked from the classes);
# otherwise the exact aggregates above run in one more scan.
_GUESSED = {
    "INTEGER": ("min", "max"),
    "REAL": ("absmax",),
    "TEXT": ("length",),
    "BLOB": ("length",),
    "NUMERIC": ("min", "max", "length"),
}
_GUESS_SQL = {
    "min": "min({})",
    "max": "max({})",
    "absmax": "max(abs({}))",
    "length": "max(length({}))",
}
_GUESS_MERGE: dict[str, Callable[[Any, Any], Any]] = {
    "min": min,
    "max": max,
    "absmax": max,
    "length": max,
}
# classes most often seen first: counting stops once every row has a class
_COUNT_ORDER = [
    _CODE[c].encode("ascii")
    for c in (
        "text",
        "null",
        "int",
        "int_s",
        "int01",
        "json_c",
        "real2",
        "empty",
        "real",
        "int_ms",
        "iso",
        "date",
        "json_s",
        "json_d",
        "nul",
        "num",
        "special",
        "real_s",
        "real_ms",
        "blob",
    )
]

CHUNK_ROWS = 1 << 16  # rowids per scan: bounds memory (a byte a row and column), balances threads
_MAX_COLUMNS = 64  # columns per scan (SQLite limits the result columns of one SELECT)
_WHOLE_CHUNKS = 64  # a table without usable rowid ranges: one column a scan up to this many
# chunks of rows, a GROUP BY per column above


@dataclass
class _Unit:
    """One scan: some columns of a table, over a rowid range (or the whole table)."""

    table: Table
    columns: tuple[Column, ...]
    rowids: tuple[str, int, int] | None = None  # (rowid alias, first, last)
    grouped: bool = False  # a GROUP BY per column (tables too large or sparse for chunks)
    cost: float = 0.0
    # (offset, count): rows by position in the table's order (a split of a scan that met a
    # value too large to load, where there is no rowid range to split)
    positions: tuple[int, int] | None = None


@dataclass
class _Partial:
    prof: ColumnProfile
    guessed: dict[str, Any]
    exact: bool = False  # min / max / length set in ``prof`` (a GROUP BY's), none guessed


def _rows_sql(unit: _Unit) -> tuple[str, tuple[int, ...]]:
    """The FROM clause (and its parameters) of the rows a unit covers."""
    t = qi(unit.table.name)
    if unit.rowids is not None:
        alias, first, last = unit.rowids
        return f"{t} WHERE {alias} BETWEEN ? AND ?", (first, last)
    if unit.positions is not None:  # the table's own order (rowid, or primary key)
        offset, count = unit.positions
        names = ", ".join(qi(c.name) for c in unit.columns)
        return f"(SELECT {names} FROM {t} NOT INDEXED LIMIT ? OFFSET ?)", (count, offset)
    return t, ()


def _scan(conn: sqlite3.Connection, unit: _Unit) -> list[_Partial]:
    """A unit's partial profiles, one per column; a value too large to load sets its row
    apart (:func:`_apart`)."""
    try:
        return _scan_once(conn, unit)
    except sqlite3.DataError as exc:
        if not pieces.too_big(exc):
            raise
    return _apart(conn, unit, (_scan, _scan_once), _merge_all, _large_partial)


def _merge_all(halves: Sequence[list[_Partial]]) -> list[_Partial]:
    return [_merge(list(parts)) for parts in zip(*halves, strict=True)]


def _scan_once(conn: sqlite3.Connection, unit: _Unit) -> list[_Partial]:
    if unit.grouped:
        t = qi(unit.table.name)
        return [_Partial(_profile_grouped(conn, t, col), {}, exact=True) for col in unit.columns]
    select = []
    for col in unit.columns:
        c = qi(col.name)
        select.append(f"group_concat({_class_sql(col)}, '')")
        select.extend(_GUESS_SQL[g].format(c) for g in _GUESSED[col.affinity])
    rows, params = _rows_sql(unit)
    values = list(conn.execute(f"SELECT {', '.join(select)} FROM {rows}", params).fetchone())
    out = []
    for col in unit.columns:
        census = values.pop(0)
        guessed = {g: values.pop(0) for g in _GUESSED[col.affinity]}
        out.append(_Partial(_census(census), guessed))
    return out


def _census(census: str | bytes | None) -> ColumnProfile:
    """Count the one-letter classes of a group_concat()."""
    prof = ColumnProfile()
    if census is None:  # no rows
        return prof
    letters = census.encode("ascii") if isinstance(census, str) else bytes(census)
    left = len(letters)
    for code in _COUNT_ORDER:
        n = letters.count(code)
        if n:
            _add(prof, _CLASS[code.decode("ascii")], n)
            left -= n
            if not left:
                break
    return prof


def _profile_grouped(conn: sqlite3.Connection, t: str, col: Column) -> ColumnProfile:
    """Classes counted with a GROUP BY (SQLite sorts: bounded memory for huge tables)."""
    c = qi(col.name)
    sql = (
        f"SELECT cls, count(*), {_exact_stats_sql(c)}"
        f" FROM (SELECT {_class_sql(col)} AS cls, {c} FROM {t}) GROUP BY cls"
    )
    prof = ColumnProfile()
    for cls, n, imin, imax, maxlen, rmax in conn.execute(sql):
        _add(prof, _CLASS[cls.decode() if isinstance(cls, bytes) else cls], int(n))
        prof.int_min = _pick(min, prof.int_min, imin)
        prof.int_max = _pick(max, prof.int_max, imax)
        prof.max_length = _pick(max, prof.max_length, maxlen)
        prof.real_max_abs = _pick(max, prof.real_max_abs, rmax)
    return prof


def _add(prof: ColumnProfile, cls: str, n: int) -> None:
    prof.rows += n
    for name in _FIELDS[cls]:
        setattr(prof, name, getattr(prof, name) + n)


def _pick(fn: Callable[[Any, Any], Any], old: Any, new: Any) -> Any:
    if new is None:
        return old
    return new if old is None else fn(old, new)


_COUNTERS = ("rows", *dict.fromkeys(f for fields in _FIELDS.values() for f in fields))
_MIXED = object()  # a guessed aggregate over values Python cannot compare (text and numbers)


def _merge(parts: Sequence[_Partial]) -> _Partial:
    """One column's partial profiles over its rowid ranges, in rowid order."""
    if len(parts) == 1:
        return parts[0]
    total = _Partial(ColumnProfile(), {}, exact=all(p.exact for p in parts))
    for part in parts:
        for name in _COUNTERS:
            setattr(total.prof, name, getattr(total.prof, name) + getattr(part.prof, name))
        _merge_stats(total.prof, part.prof)
        for g, value in part.guessed.items():
            try:
                total.guessed[g] = _pick(_GUESS_MERGE[g], total.guessed.get(g), value)
            except TypeError:  # values of several storage classes: _finish() will not use it
                total.guessed[g] = _MIXED
    return total


def _merge_stats(total: ColumnProfile, part: ColumnProfile) -> None:
    total.int_min = _pick(min, total.int_min, part.int_min)
    total.int_max = _pick(max, total.int_max, part.int_max)
    total.max_length = _pick(max, total.max_length, part.max_length)
    total.real_max_abs = _pick(max, total.real_max_abs, part.real_max_abs)


def _finish(part: _Partial) -> bool:
    """Set the min / max / length fields from the guessed aggregates; False when they do not
    apply (values of several storage classes) and the exact aggregates must run."""
    prof, got = part.prof, part.guessed
    kinds = {
        k
        for k, n in (
            ("integer", prof.integers),
            ("real", prof.reals),
            ("text", prof.texts),
            ("blob", prof.blobs),
        )
        if n
    }
    if kinds <= {"blob"}:  # NULL and blobs only: no statistics
        return True
    if _MIXED in got.values():
        return False
    if kinds == {"integer"} and "min" in got:
        prof.int_min, prof.int_max = got["min"], got["max"]
    elif kinds == {"text"} and "length" in got:
        prof.max_length = got["length"]
    elif kinds == {"real"} and "absmax" in got:
        prof.real_max_abs = got["absmax"]
    else:
        return False
    return True


def _exact(
    conn: sqlite3.Connection, table: Table, cols: Sequence[Column], profs: dict[str, ColumnProfile]
) -> None:
    """min / max / length with a typeof() test per value, for columns of mixed classes."""
    for i in range(0, len(cols), _MAX_COLUMNS):
        group = tuple(cols[i : i + _MAX_COLUMNS])
        for col, stats in zip(group, _exact_stats(conn, _Unit(table, group)), strict=True):
            prof = profs[col.name]
            prof.int_min, prof.int_max = stats.int_min, stats.int_max
            prof.max_length, prof.real_max_abs = stats.max_length, stats.real_max_abs


def _exact_stats(conn: sqlite3.Connection, unit: _Unit) -> list[ColumnProfile]:
    """The exact statistics of a unit's columns (only their min / max / length fields set);
    a value too large to load sets its row apart (:func:`_apart`)."""
    try:
        return _exact_once(conn, unit)
    except sqlite3.DataError as exc:
        if not pieces.too_big(exc):
            raise
    return _apart(conn, unit, (_exact_stats, _exact_once), _merge_exact, _large_stats)


def _exact_once(conn: sqlite3.Connection, unit: _Unit) -> list[ColumnProfile]:
    rows, params = _rows_sql(unit)
    sql = f"SELECT {', '.join(_exact_stats_sql(qi(c.name)) for c in unit.columns)} FROM {rows}"
    row = conn.execute(sql, params).fetchone()
    out = []
    for j in range(len(unit.columns)):
        stats = ColumnProfile()
        stats.int_min, stats.int_max, stats.max_length, stats.real_max_abs = row[4 * j : 4 * j + 4]
        out.append(stats)
    return out


def _merge_exact(halves: Sequence[list[ColumnProfile]]) -> list[ColumnProfile]:
    out = []
    for parts in zip(*halves, strict=True):
        total = ColumnProfile()
        for part in parts:
            _merge_stats(total, part)
        out.append(total)
    return out


# -- values too large to load ----------------------------------------------------------------
Scan = Callable[[sqlite3.Connection, _Unit], list[Any]]


def _apart(
    conn: sqlite3.Connection,
    unit: _Unit,
    scans: tuple[Scan, Scan],
    merge: Callable[[Sequence[list[Any]]], list[Any]],
    large: Callable[[sqlite3.Connection, _Unit, Column], Any],
) -> list[Any]:
    """A scan of a unit that met a value too large to load (``scans``: the scan that sets
    such rows apart, and the scan that fails on them): of its two halves (each split again
    while it meets one), down to the single row that holds it, whose values are then scanned
    one column at a time, a column that meets it by ``large``. Memory holds no more
    than a scan without large values (and a few pieces of the large one); a large value costs
    about two scans of its unit (halves of halves)."""
    scan, once = scans
    halves = _halves(conn, unit)
    if halves:
        return merge([scan(conn, half) for half in halves])
    out = []
    for col in unit.columns:
        one = replace(unit, columns=(col,))
        try:
            out.extend(once(conn, one))
        except sqlite3.DataError as exc:
            if not pieces.too_big(exc):
                raise
            out.append(large(conn, one, col))
    return out


def _halves(conn: sqlite3.Connection, unit: _Unit) -> list[_Unit] | None:
    """The unit's rows in two halves (rowid ranges, or positions in the table's order when it
    has none: the whole table, a GROUP BY's included); None: it is one row."""
    if unit.rowids is not None:
        alias, first, last = unit.rowids
        if first >= last:
            return None
        middle = (first + last) // 2
        return [
            replace(unit, rowids=(alias, first, middle)),
            replace(unit, rowids=(alias, middle + 1, last)),
        ]
    if unit.positions is None:
        (rows,) = conn.execute(f"SELECT count(*) FROM {qi(unit.table.name)}").fetchone()
        return [replace(unit, grouped=False, positions=(0, int(rows)))]
    offset, count = unit.positions
    if count <= 1:
        return None
    half = count // 2
    return [
        replace(unit, positions=(offset, half)),
        replace(unit, positions=(offset + half, count - half)),
    ]


def _row_of(conn: sqlite3.Connection, unit: _Unit) -> pieces.Row | None:
    """Where the one row of a unit is: by rowid, or by its primary key's values (WITHOUT
    ROWID); None when it cannot be found again (a table whose columns hide rowid, oid and
    _rowid_)."""
    table = unit.table
    if unit.rowids is not None:
        name, first, _ = unit.rowids
        return pieces.Row(table.name, f"{name} = ?", [first], first)
    offset = unit.positions[0] if unit.positions else 0
    t = qi(table.name)
    alias = _rowid_alias(table)
    if alias is not None:
        sql = f"SELECT {alias} FROM {t} NOT INDEXED LIMIT 1 OFFSET ?"
        (rowid,) = conn.execute(sql, (offset,)).fetchone()
        return pieces.Row(table.name, f"{alias} = ?", [rowid], int(rowid))
    if not table.without_rowid:
        return None
    keys = table.primary_key
    typed = ", ".join(f"typeof({qi(k)}), {qi(k)}" for k in keys)
    with pieces.unbounded(conn):  # a key as large as a value is still read
        found = conn.execute(
            f"SELECT {typed} FROM {t} NOT INDEXED LIMIT 1 OFFSET ?", (offset,)
        ).fetchone()
    key = tuple(
        Raw(kind.decode() if isinstance(kind, bytes) else kind, value)
        for kind, value in zip(found[::2], found[1::2], strict=True)
    )
    where, params = reader.key_clause(keys, key)
    return pieces.Row(table.name, where, params, None)


def _large_facts(
    conn: sqlite3.Connection, unit: _Unit, col: Column
) -> tuple[pieces.Row, str, bigvalue.TextFacts] | None:
    """The row, storage class and text facts of one large value; None when it cannot be read
    in pieces (a file not stored as UTF-8, a row that cannot be found again): then it is
    scanned whole, the limit lifted for it (SQLite's copies of it, as before)."""
    row = _row_of(conn, unit)
    if row is None:
        return None
    kind = pieces.kind(conn, row, col.name)
    if kind != "text":
        return row, kind, bigvalue.TextFacts(False, 0, b"")
    if not pieces.utf8(conn):
        return None
    return row, kind, bigvalue.text_facts(pieces.chunks(conn, row, col.name))


def _large_class(
    conn: sqlite3.Connection, row: pieces.Row, col: Column, facts: bigvalue.TextFacts
) -> str:
    """The class :func:`_class_sql` gives a text too large for a date, a number or an
    infinity: NUL, JSON (text-like columns only, as there) or plain text."""
    if facts.nul:
        return "nul"
    if time_like(col) and _DATE_START.match(facts.head):  # julianday() reads it: once
        with pieces.unbounded(conn):
            (date,) = pieces.one(conn, row, f"julianday({qi(col.name)}) IS NOT NULL")
        if date:
            return "iso"  # longer than 10 characters: not a date alone
    if col.affinity not in ("TEXT", "BLOB", "NUMERIC"):
        return "text"
    first = facts.head[:1]
    if first in (b"{", b"["):
        valid = bigvalue.json_valid(pieces.chunks(conn, row, col.name, size=bigvalue.PIECE))
        return "json_c" if valid else "text"
    if first == b'"':
        return bigvalue.json_class(lambda: pieces.chunks(conn, row, col.name, size=bigvalue.PIECE))
    return "text"


def _large_partial(conn: sqlite3.Connection, unit: _Unit, col: Column) -> _Partial:
    """The partial profile of one row's large value."""
    found = _large_facts(conn, unit, col)
    if found is None:
        with pieces.unbounded(conn):
            return _scan_once(conn, unit)[0]
    row, kind, facts = found
    prof = ColumnProfile()
    if kind == "text":
        _add(prof, _large_class(conn, row, col, facts), 1)
    else:  # a blob (min() / max() load it): its class, and nothing to guess
        _add(prof, "blob", 1)
    guessed: dict[str, Any] = dict.fromkeys(_GUESSED[col.affinity], _MIXED)
    if kind == "text" and "length" in guessed:
        guessed["length"] = facts.characters
    return _Partial(prof, guessed)


def _large_stats(conn: sqlite3.Connection, unit: _Unit, col: Column) -> ColumnProfile:
    """The exact statistics of one row's large value: a text's length in characters."""
    found = _large_facts(conn, unit, col)
    if found is None:
        with pieces.unbounded(conn):
            return _exact_once(conn, unit)[0]
    stats = ColumnProfile()
    _, kind, facts = found
    if kind == "text":
        stats.max_length = facts.characters
    return stats


def _rowid_alias(table: Table) -> str | None:
    if table.without_rowid:
        return None
    names = {c.name.lower() for c in table.columns}
    return next((a for a in ("rowid", "_rowid_", "oid") if a not in names), None)


def _plan(
    conn: sqlite3.Connection, table: Table, cols: Sequence[Column], chunk_rows: int = CHUNK_ROWS
) -> list[_Unit]:
    """The scans that profile ``cols`` of ``table``: all of them at once over rowid ranges of
    at most ``chunk_rows`` rowids. Without rowid, or with rowids too sparse for ranges: all of
    them at once in a small table, one at a time in a larger one, and a GROUP BY per column
    in a huge one (memory stays bounded)."""
    if not cols:
        return []
    t = qi(table.name)
    alias = _rowid_alias(table)
    ranges: list[tuple[str, int, int] | None] = [None]
    if alias is not None:
        low, high = conn.execute(
            f"SELECT (SELECT min({alias}) FROM {t}), (SELECT max({alias}) FROM {t})"
        ).fetchone()
        if low is None:
            rows = 0
        else:
            low, high = int(low), int(high)
            chunks = (high - low) // chunk_rows + 1
            rows = high - low + 1
            if chunks > _WHOLE_CHUNKS:  # sparse rowids make many empty ranges: worth a count
                rows = int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            if chunks <= _WHOLE_CHUNKS or chunks <= 4 * (rows // chunk_rows + 1):
                ranges = [
                    (alias, a, min(a + chunk_rows - 1, high))
                    for a in range(low, high + 1, chunk_rows)
                ]
    else:
        rows = int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
    apart = ranges == [None] and rows > chunk_rows
    grouped = ranges == [None] and rows > _WHOLE_CHUNKS * chunk_rows
    weights = dict(
        zip(
            (c.name for c in cols),
            _weights(conn, table, cols) if rows else [1.0] * len(cols),
            strict=True,
        )
    )
    units = []
    for rng in ranges:
        span = rows if rng is None else min(rng[2] - rng[1] + 1, rows)
        groups = (
            [(c,) for c in cols]
            if apart
            else [cols[i : i + _MAX_COLUMNS] for i in range(0, len(cols), _MAX_COLUMNS)]
        )
        for group in groups:
            cost = span * sum(weights[c.name] for c in group)
            units.append(_Unit(table, tuple(group), rng, grouped, cost))
    return units


_SAMPLE = 64  # rows read per table to guess which columns cost most


def _weights(conn: sqlite3.Connection, table: Table, cols: Sequence[Column]) -> list[float]:
    """Estimated cost per row of profiling each column, for scheduling only: it grows with
    the size of the values, much more for JSON (json_valid() parses it). Measured in SQL on
    the first rows (values never reach Python: text may not even decode)."""
    t = qi(table.name)
    if table.without_rowid or any(c.name.lower() == "rowid" for c in table.columns):
        refs = [f"c{i}" for i in range(len(cols))]
        picked = ", ".join(f"{qi(c.name)} AS c{i}" for i, c in enumerate(cols))
        source = f"(SELECT {picked} FROM {t} LIMIT {_SAMPLE})"
    else:  # the table's own columns: a blob's typeof() and length() never load it
        refs = [qi(c.name) for c in cols]
        source = f"{t} WHERE rowid IN (SELECT rowid FROM {t} LIMIT {_SAMPLE})"
    sizes = []
    for c in refs:
        size = f"CASE typeof({c}) WHEN 'blob' THEN length({c}) ELSE length(CAST({c} AS BLOB)) END"
        sizes.append(
            f"total({size}), total(CASE WHEN typeof({c}) = 'text' AND unicode({c})"
            f" IN (123, 91) THEN {size} END)"
        )
    try:
        row = conn.execute(f"SELECT count(*), {', '.join(sizes)} FROM {source}").fetchone()
    except sqlite3.DataError as exc:  # a value too large to load among them: no estimate
        if not pieces.too_big(exc):
            raise
        return [1.0] * len(cols)
    n = max(int(row[0]), 1)
    return [1.0 + (row[1 + 2 * i] + 5 * row[2 + 2 * i]) / (200 * n) for i in range(len(cols))]


def _pending(
    cols: Sequence[Column], results: Sequence[tuple[_Unit, list[_Partial]]]
) -> tuple[dict[str, ColumnProfile], list[Column]]:
    """Profiles of ``cols`` from their table's scans (in plan order), and the columns of mixed
    classes whose min / max / length still need the exact aggregates."""
    parts: dict[str, list[_Partial]] = {c.name: [] for c in cols}
    for unit, partials in results:
        for col, part in zip(unit.columns, partials, strict=True):
            parts[col.name].append(part)
    profs: dict[str, ColumnProfile] = {}
    todo = []
    for col in cols:
        merged = _merge(parts[col.name])
        profs[col.name] = merged.prof
        if not merged.exact and not _finish(merged):
            todo.append(col)
    return profs, todo


def profile_column(conn: sqlite3.Connection, table: Table, col: Column) -> ColumnProfile:
    """Profile one column of ``table``."""
    return _profile(conn, table, (col,))[col.name]


def profile_table(conn: sqlite3.Connection, table: Table) -> dict[str, ColumnProfile]:
    """Profile every stored column of ``table``."""
    return _profile(conn, table, table.stored_columns)


def _profile(
    conn: sqlite3.Connection, table: Table, cols: Sequence[Column], chunk_rows: int = CHUNK_ROWS
) -> dict[str, ColumnProfile]:
    with pieces.bounded(conn):
        units = _plan(conn, table, cols, chunk_rows)
        profs, todo = _pending(cols, [(u, _scan(conn, u)) for u in units])
        if todo:
            _exact(conn, table, todo, profs)
    return profs


def profile_tables(
    opener: Callable[[], sqlite3.Connection],
    tables: Sequence[Table],
    workers: int = 1,
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, dict[str, ColumnProfile]]:
    """Profile every column of ``tables``, ``workers`` scans at a time (SQLite scans in
    parallel threads: it releases the GIL while it works). A scan covers all the columns of a
    table over a range of rowids; the costliest scans go first so that the threads finish
    together."""
    local = threading.local()
    opened: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def connection() -> sqlite3.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = pieces.bound(opener())
            with lock:
                opened.append(local.conn)
        conn: sqlite3.Connection = local.conn
        return conn

    def plan(table: Table) -> list[_Unit]:
        return _plan(connection(), table, table.stored_columns, chunk_rows)

    def scan(unit: _Unit) -> list[_Partial]:
        return _scan(connection(), unit)

    def exact(job: tuple[Table, list[Column], dict[str, ColumnProfile]]) -> None:
        _exact(connection(), *job)

    try:
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            units = [u for units in pool.map(plan, tables) for u in units]
            order = sorted(range(len(units)), key=lambda i: -units[i].cost)
            scanned = dict(zip(order, pool.map(scan, [units[i] for i in order]), strict=True))
            by_table: dict[str, list[tuple[_Unit, list[_Partial]]]] = {t.name: [] for t in tables}
            for i, unit in enumerate(units):  # plan order: rowid order within a table
                by_table[unit.table.name].append((unit, scanned[i]))
            out: dict[str, dict[str, ColumnProfile]] = {}
            jobs = []
            for table in tables:
                out[table.name], todo = _pending(table.stored_columns, by_table[table.name])
                if todo:
                    jobs.append((table, todo, out[table.name]))
            list(pool.map(exact, jobs))
    finally:
        for conn in opened:
            conn.close()
    return out
