"""Column profiles, computed by SQLite itself (typeof() mix, integer range, text length, JSON
validity and double encoding, epoch s / ms vs ISO vs SQL datetime text, 0/1 flags, '' vs NULL,
NUL bytes).

One scan covers all the columns of a table over a range of rowids: a CASE gives each value's
class as one letter, group_concat() strings the letters (no sort; Python counts them), and
plain min / max / length aggregates, guessed from the affinity, give the statistics when the
classes show that the column holds one storage class (else one more scan computes them with
a typeof() test per value). Tables too large for ranges (no rowid, or sparse rowids) fall
back to a GROUP BY per column.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vendzz_migrate.source import qi
from vendzz_migrate.source.introspect import Column, Table

EPOCH_S = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 in seconds
EPOCH_MS = (EPOCH_S[0] * 1000, EPOCH_S[1] * 1000)
_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*"
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


@dataclass
class _Partial:
    prof: ColumnProfile
    guessed: dict[str, Any]


def _scan(conn: sqlite3.Connection, unit: _Unit) -> list[_Partial]:
    t = qi(unit.table.name)
    if unit.grouped:
        return [_Partial(_profile_grouped(conn, t, col), {}) for col in unit.columns]
    select = []
    for col in unit.columns:
        c = qi(col.name)
        select.append(f"group_concat({_class_sql(col)}, '')")
        select.extend(_GUESS_SQL[g].format(c) for g in _GUESSED[col.affinity])
    sql = f"SELECT {', '.join(select)} FROM {t}"
    params: tuple[int, ...] = ()
    if unit.rowids is not None:
        alias, first, last = unit.rowids
        sql += f" WHERE {alias} BETWEEN ? AND ?"
        params = (first, last)
    values = list(conn.execute(sql, params).fetchone())
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
    total = _Partial(ColumnProfile(), {})
    for part in parts:
        for name in _COUNTERS:
            setattr(total.prof, name, getattr(total.prof, name) + getattr(part.prof, name))
        for g, value in part.guessed.items():
            try:
                total.guessed[g] = _pick(_GUESS_MERGE[g], total.guessed.get(g), value)
            except TypeError:  # values of several storage classes: _finish() will not use it
                total.guessed[g] = _MIXED
    return total


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
        group = cols[i : i + _MAX_COLUMNS]
        row = list(
            conn.execute(
                f"SELECT {', '.join(_exact_stats_sql(qi(c.name)) for c in group)}"
                f" FROM {qi(table.name)}"
            ).fetchone()
        )
        for j, col in enumerate(group):
            prof = profs[col.name]
            prof.int_min, prof.int_max, prof.max_length, prof.real_max_abs = row[4 * j : 4 * j + 4]


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
    row = conn.execute(f"SELECT count(*), {', '.join(sizes)} FROM {source}").fetchone()
    n = max(int(row[0]), 1)
    return [1.0 + (row[1 + 2 * i] + 5 * row[2 + 2 * i]) / (200 * n) for i in range(len(cols))]


def _pending(
    cols: Sequence[Column], results: Sequence[tuple[_Unit, list[_Partial]]]
) -> tuple[dict[str, ColumnProfile], list[Column]]:
    """Profiles of ``cols`` from their table's scans (in plan order), and the columns of mixed
    classes whose min / max / length still need the exact aggregates."""
    parts: dict[str, list[_Partial]] = {c.name: [] for c in cols}
    grouped = set()
    for unit, partials in results:
        for col, part in zip(unit.columns, partials, strict=True):
            parts[col.name].append(part)
            if unit.grouped:
                grouped.add(col.name)
    profs: dict[str, ColumnProfile] = {}
    todo = []
    for col in cols:
        merged = _merge(parts[col.name])
        profs[col.name] = merged.prof
        if col.name not in grouped and not _finish(merged):
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
            local.conn = opener()
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
