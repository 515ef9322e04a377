"""Column profiles: one aggregate query per table, computed by SQLite itself (typeof() mix,
integer range, text length, JSON validity and double encoding, epoch s / ms vs ISO vs SQL
datetime text, 0/1 flags, '' vs NULL, NUL bytes)."""

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
TIME_NAME = re.compile(r"(?i)(_at|At|_date|Date|_time|Time|timestamp|expires|Expires)$"
                       r"|^(created|updated|deleted|expires)")


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
        for label, value in (("null", self.nulls), ("integer", self.integers),
                             ("real", self.reals), ("text", self.texts), ("blob", self.blobs),
                             ("empty ''", self.empty), ("epoch s", self.epoch_s),
                             ("epoch ms", self.epoch_ms), ("ISO/SQL text", self.iso_text),
                             ("JSON", self.json_container), ("double-encoded", self.json_double),
                             ("NUL", self.nul_bytes)):
            if value:
                parts.append(f"{label} {value}")
        if self.int_min is not None:
            parts.append(f"int {self.int_min}..{self.int_max}")
        if self.max_length is not None:
            parts.append(f"max length {self.max_length}")
        return ", ".join(parts)


def time_like(col: Column) -> bool:
    """A column that may hold timestamps: by declared type or by name."""
    return (any(t in col.decl_type.upper() for t in ("DATE", "TIME"))
            or bool(TIME_NAME.search(col.name)))


def _class_sql(col: Column) -> str:
    """One CASE per value giving its class; classes are counted with GROUP BY.

    CASE, not AND: SQLite may evaluate both sides of AND, and json_type() raises on bad JSON.
    Costly tests run only where they can matter: JSON parsing for text-like columns and only
    on text that can start a JSON container or string, timestamp classes for time-like columns.
    """
    c = qi(col.name)
    timey = time_like(col)
    texty = col.affinity in ("TEXT", "BLOB", "NUMERIC")
    inner = f"json_extract({c}, '$')"
    s_range, ms_range = f"BETWEEN {EPOCH_S[0]} AND {EPOCH_S[1]}", \
        f"BETWEEN {EPOCH_MS[0]} AND {EPOCH_MS[1]}"
    epoch = (f"WHEN {c} {s_range} THEN '{{0}}_s' WHEN {c} {ms_range} THEN '{{0}}_ms'"
             if timey else "")
    json = (f"WHEN substr({c}, 1, 1) IN ('{{', '[', '\"') AND json_valid({c}) THEN"
            f" CASE WHEN json_type({c}) IN ('object', 'array') THEN 'json_c'"
            f" WHEN json_type({c}) <> 'text' THEN 'json_s'"
            f" WHEN json_valid({inner}) THEN CASE WHEN json_type({inner})"
            f" IN ('object', 'array', 'text') THEN 'json_d' ELSE 'json_s' END"
            f" ELSE 'json_s' END" if texty else "")
    # numbers written as text only matter to REAL/NUMERIC columns (and cost a scan of text)
    numbers = (f"WHEN length({c}) < 40 AND {c} GLOB '*[0-9]*' AND NOT {c} GLOB '*[^0-9.eE+-]*'"
               f" THEN 'num' WHEN length({c}) < 12 AND lower(trim({c})) IN ('infinity',"
               f" '+infinity', '-infinity', 'inf', '+inf', '-inf', 'nan') THEN 'special'"
               if col.affinity in ("REAL", "NUMERIC") else "")
    dates = (f"WHEN {c} GLOB '{_DATE_GLOB}' AND julianday({c}) IS NOT NULL THEN"
             f" CASE WHEN length({c}) = 10 THEN 'date' ELSE 'iso' END" if timey else "")
    return (
        f"CASE typeof({c}) WHEN 'null' THEN 'null'"
        f" WHEN 'integer' THEN CASE WHEN {c} IN (0, 1) THEN 'int01' {epoch.format('int')}"
        f" ELSE 'int' END"
        f" WHEN 'real' THEN CASE {epoch.format('real')} WHEN round({c}, 2) = {c} THEN 'real2'"
        f" ELSE 'real' END"
        f" WHEN 'text' THEN CASE WHEN {c} = '' THEN 'empty'"
        f" WHEN instr(CAST({c} AS BLOB), X'00') > 0 THEN 'nul' {json} {dates} {numbers}"
        f" ELSE 'text' END ELSE 'blob' END"
    )


def profile_column(conn: sqlite3.Connection, table: Table, col: Column) -> ColumnProfile:
    """Profile one column in one scan of the table (a GROUP BY over value classes)."""
    c = qi(col.name)
    sql = (f"SELECT cls, count(*), min(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
           f" max(CASE WHEN typeof({c}) = 'integer' THEN {c} END),"
           f" max(CASE WHEN typeof({c}) = 'text' THEN length({c}) END),"
           f" max(CASE WHEN typeof({c}) = 'real' THEN abs({c}) END)"
           f" FROM (SELECT {_class_sql(col)} AS cls, {c} FROM {qi(table.name)}) GROUP BY cls")
    prof = ColumnProfile()
    for cls, n, imin, imax, maxlen, rmax in conn.execute(sql):
        _add(prof, cls.decode() if isinstance(cls, bytes) else cls, int(n))
        prof.int_min = _pick(min, prof.int_min, imin)
        prof.int_max = _pick(max, prof.int_max, imax)
        prof.max_length = _pick(max, prof.max_length, maxlen)
        prof.real_max_abs = _pick(max, prof.real_max_abs, rmax)
    return prof


_FIELDS = {  # class -> the ColumnProfile counters it adds to
    "null": ("nulls",), "int01": ("integers", "zero_one"), "int": ("integers",),
    "int_s": ("integers", "epoch_s"), "int_ms": ("integers", "epoch_ms"),
    "real": ("reals",), "real2": ("reals", "real_2dp"), "real_s": ("reals", "epoch_s"),
    "real_ms": ("reals", "epoch_ms"), "empty": ("texts", "empty"), "nul": ("texts", "nul_bytes"),
    "json_c": ("texts", "json_container"), "json_s": ("texts", "json_scalar"),
    "json_d": ("texts", "json_scalar", "json_double"), "date": ("texts", "iso_text", "date_only"),
    "iso": ("texts", "iso_text"), "num": ("texts", "numeric_text"),
    "special": ("texts", "special_float_text"), "text": ("texts",), "blob": ("blobs",),
}


def _add(prof: ColumnProfile, cls: str, n: int) -> None:
    prof.rows += n
    for name in _FIELDS[cls]:
        setattr(prof, name, getattr(prof, name) + n)


def _pick(fn: Callable[[Any, Any], Any], old: Any, new: Any) -> Any:
    if new is None:
        return old
    return new if old is None else fn(old, new)


def profile_table(conn: sqlite3.Connection, table: Table) -> dict[str, ColumnProfile]:
    """Profile every stored column of ``table``."""
    return {col.name: profile_column(conn, table, col) for col in table.stored_columns}


def profile_tables(opener: Callable[[], sqlite3.Connection], tables: Sequence[Table],
                   workers: int = 1) -> dict[str, dict[str, ColumnProfile]]:
    """Profile every column of ``tables``, ``workers`` columns at a time (SQLite scans in
    parallel threads: it releases the GIL while it works)."""
    local = threading.local()
    opened: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def one(table: Table, col: Column) -> ColumnProfile:
        if getattr(local, "conn", None) is None:
            local.conn = opener()
            with lock:
                opened.append(local.conn)
        return profile_column(local.conn, table, col)

    jobs = [(t, c) for t in tables for c in t.stored_columns]
    try:
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            results = list(pool.map(lambda job: one(*job), jobs))
    finally:
        for conn in opened:
            conn.close()
    out: dict[str, dict[str, ColumnProfile]] = {t.name: {} for t in tables}
    for (table, col), prof in zip(jobs, results, strict=True):
        out[table.name][col.name] = prof
    return out
