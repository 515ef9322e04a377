"""Column profiles: one aggregate query per table, computed by SQLite itself (typeof() mix,
integer range, text length, JSON validity and double encoding, epoch s / ms vs ISO vs SQL
datetime text, 0/1 flags, '' vs NULL, NUL bytes)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
    """A one-letter class per value (see CLASSES). Rows come back as one short string of
    letters, counted in C by collections.Counter: one scan per table, no GROUP BY sort.

    CASE, not AND: SQLite may evaluate both sides of AND, and json_type() raises on bad JSON.
    Costly tests run only where they can matter: JSON parsing for text-like columns and only
    on text that can start a JSON container or string, timestamp classes for time-like ones.
    """
    c = qi(col.name)
    timey = time_like(col)
    texty = col.affinity in ("TEXT", "BLOB", "NUMERIC")
    inner = f"json_extract({c}, '$')"
    s_range = f"BETWEEN {EPOCH_S[0]} AND {EPOCH_S[1]}"
    ms_range = f"BETWEEN {EPOCH_MS[0]} AND {EPOCH_MS[1]}"
    int_epoch = f"WHEN {c} {s_range} THEN 's' WHEN {c} {ms_range} THEN 'm'" if timey else ""
    real_epoch = f"WHEN {c} {s_range} THEN 'S' WHEN {c} {ms_range} THEN 'M'" if timey else ""
    json = (f"WHEN substr(ltrim({c}), 1, 1) IN ('{{', '[', '\"') AND json_valid({c}) THEN"
            f" CASE WHEN json_type({c}) IN ('object', 'array') THEN 'j'"
            f" WHEN json_type({c}) <> 'text' THEN 'q'"
            f" WHEN json_valid({inner}) THEN CASE WHEN json_type({inner})"
            f" IN ('object', 'array', 'text') THEN 'd' ELSE 'q' END"
            f" ELSE 'q' END" if texty else "")
    dates = (f"WHEN {c} GLOB '{_DATE_GLOB}' AND julianday({c}) IS NOT NULL THEN"
             f" CASE WHEN length({c}) = 10 THEN 'D' ELSE 'I' END" if timey else "")
    return (
        f"CASE typeof({c}) WHEN 'null' THEN 'n'"
        f" WHEN 'integer' THEN CASE WHEN {c} IN (0, 1) THEN 'b' {int_epoch} ELSE 'i' END"
        f" WHEN 'real' THEN CASE {real_epoch} WHEN round({c}, 2) = {c} THEN 'c' ELSE 'r' END"
        f" WHEN 'text' THEN CASE WHEN {c} = '' THEN 'e'"
        f" WHEN instr(CAST({c} AS BLOB), X'00') > 0 THEN '0' {json} {dates}"
        f" WHEN length({c}) < 40 AND {c} GLOB '*[0-9]*' AND NOT {c} GLOB '*[^0-9.eE+-]*'"
        f" THEN '9' WHEN length({c}) < 12 AND lower(trim({c})) IN ('infinity', '+infinity',"
        f" '-infinity', 'inf', '+inf', '-inf', 'nan') THEN 'f' ELSE 't' END"
        f" ELSE 'x' END"
    )


CLASSES = {  # class letter -> the ColumnProfile counters it adds to
    "n": ("nulls",), "b": ("integers", "zero_one"), "i": ("integers",),
    "s": ("integers", "epoch_s"), "m": ("integers", "epoch_ms"),
    "r": ("reals",), "c": ("reals", "real_2dp"), "S": ("reals", "epoch_s"),
    "M": ("reals", "epoch_ms"), "e": ("texts", "empty"), "0": ("texts", "nul_bytes"),
    "j": ("texts", "json_container"), "q": ("texts", "json_scalar"),
    "d": ("texts", "json_scalar", "json_double"), "D": ("texts", "iso_text", "date_only"),
    "I": ("texts", "iso_text"), "9": ("texts", "numeric_text"),
    "f": ("texts", "special_float_text"), "t": ("texts",), "x": ("blobs",),
}


def profile_table(conn: sqlite3.Connection, table: Table, where: str = "1"
                  ) -> dict[str, ColumnProfile]:
    """Profile every stored column of ``table`` (the rows matching ``where``) in one scan, plus
    one small aggregate scan for the extremes (integer range, text length, largest real)."""
    cols = list(table.stored_columns)
    profiles = {col.name: ColumnProfile() for col in cols}
    if not cols:
        return profiles
    codes = " || ".join(f"({_class_sql(col)})" for col in cols)
    seen = Counter(row[0] for row in conn.execute(
        f"SELECT {codes} FROM {qi(table.name)} WHERE {where}"))
    for code, n in seen.items():
        letters = code.decode() if isinstance(code, bytes) else code
        for col, letter in zip(cols, letters, strict=True):
            prof = profiles[col.name]
            prof.rows += n
            for name in CLASSES[letter]:
                setattr(prof, name, getattr(prof, name) + n)
    _extremes(conn, table, cols, profiles, where)
    return profiles


def _extremes(conn: sqlite3.Connection, table: Table, cols: list[Column],
              profiles: dict[str, ColumnProfile], where: str) -> None:
    exprs = []
    for col in cols:
        c, t = qi(col.name), f"typeof({qi(col.name)})"
        exprs += [f"min(CASE WHEN {t} = 'integer' THEN {c} END)",
                  f"max(CASE WHEN {t} = 'integer' THEN {c} END)",
                  f"max(CASE WHEN {t} = 'text' THEN length({c}) END)",
                  f"max(CASE WHEN {t} = 'real' THEN abs({c}) END)"]
    row = conn.execute(f"SELECT {', '.join(exprs)} FROM {qi(table.name)} WHERE {where}"
                       ).fetchone()
    for i, col in enumerate(cols):
        prof = profiles[col.name]
        prof.int_min, prof.int_max, prof.max_length, prof.real_max_abs = row[4 * i:4 * i + 4]


def profile_tables(opener: Callable[[], sqlite3.Connection], tables: Sequence[Table],
                   workers: int = 1) -> dict[str, dict[str, ColumnProfile]]:
    """Profile ``tables``, ``workers`` tables at a time, each thread on its own connection.
    (Measured: SQLite's allocator mutex keeps two threads from scanning much faster than one.)
    """
    local = threading.local()
    opened: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def one(table: Table) -> dict[str, ColumnProfile]:
        if getattr(local, "conn", None) is None:
            local.conn = opener()
            with lock:
                opened.append(local.conn)
        return profile_table(local.conn, table)

    try:
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            results = list(pool.map(one, tables))
    finally:
        for conn in opened:
            conn.close()
    return {t.name: r for t, r in zip(tables, results, strict=True)}
