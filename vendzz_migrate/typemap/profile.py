"""Column profiles: one aggregate query per table, computed by SQLite itself (typeof() mix,
integer range, text length, JSON validity and double encoding, epoch s / ms vs ISO vs SQL
datetime text, 0/1 flags, '' vs NULL, NUL bytes)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields

from vendzz_migrate.source import qi
from vendzz_migrate.source.introspect import Table

EPOCH_S = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 in seconds
EPOCH_MS = (EPOCH_S[0] * 1000, EPOCH_S[1] * 1000)
_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*"


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


def _aggregates(col: str) -> list[str]:
    c = qi(col)
    t = f"typeof({c})"
    inner = f"json_extract({c}, '$')"
    valid = f"{t} = 'text' AND json_valid({c})"
    # CASE, not AND: SQLite may evaluate both sides of AND, and json_type() raises on bad JSON
    container = f"CASE WHEN {valid} THEN json_type({c}) IN ('object', 'array') END"
    double = (f"CASE WHEN {valid} THEN CASE WHEN json_type({c}) = 'text' THEN CASE WHEN"
              f" json_valid({inner}) THEN json_type({inner}) IN ('object', 'array', 'text')"
              f" END END END")
    scalar = f"CASE WHEN {valid} THEN json_type({c}) NOT IN ('object', 'array') END"
    return [
        "count(*)",
        f"sum({c} IS NULL)",
        f"sum({t} = 'integer')",
        f"sum({t} = 'real')",
        f"sum({t} = 'text')",
        f"sum({t} = 'blob')",
        f"min(CASE WHEN {t} = 'integer' THEN {c} END)",
        f"max(CASE WHEN {t} = 'integer' THEN {c} END)",
        f"sum({t} = 'integer' AND {c} IN (0, 1))",
        f"sum({t} = 'text' AND {c} = '')",
        f"max(CASE WHEN {t} = 'text' THEN length({c}) END)",
        f"sum({container})",
        f"sum({double})",
        f"sum({scalar})",
        f"sum({t} = 'text' AND {c} GLOB '{_DATE_GLOB}' AND julianday({c}) IS NOT NULL)",
        f"sum({t} = 'text' AND length({c}) = 10 AND {c} GLOB '{_DATE_GLOB}')",
        f"sum({t} IN ('integer', 'real') AND {c} BETWEEN {EPOCH_S[0]} AND {EPOCH_S[1]})",
        f"sum({t} IN ('integer', 'real') AND {c} BETWEEN {EPOCH_MS[0]} AND {EPOCH_MS[1]})",
        f"sum({t} = 'real' AND round({c}, 2) = {c})",
        f"max(CASE WHEN {t} = 'real' THEN abs({c}) END)",
        f"sum({t} = 'text' AND instr(CAST({c} AS BLOB), X'00') > 0)",
        f"sum({t} = 'text' AND {c} GLOB '*[0-9]*' AND NOT {c} GLOB '*[^0-9.eE+-]*')",
        f"sum({t} = 'text' AND lower(trim({c})) IN ('infinity', '+infinity', '-infinity', 'inf',"
        f" '+inf', '-inf', 'nan'))",
    ]


def profile_table(conn: sqlite3.Connection, table: Table) -> dict[str, ColumnProfile]:
    """Profile every stored column of ``table`` in a single scan."""
    cols = [c.name for c in table.stored_columns]
    if not cols:
        return {}
    exprs = [e for col in cols for e in _aggregates(col)]
    row = conn.execute(f"SELECT {', '.join(exprs)} FROM {qi(table.name)}").fetchone()
    specs = fields(ColumnProfile)
    result: dict[str, ColumnProfile] = {}
    for i, col in enumerate(cols):
        values = row[i * len(specs):(i + 1) * len(specs)]
        kwargs = {
            spec.name: (value if value is not None or spec.default is None else 0)
            for spec, value in zip(specs, values, strict=True)
        }
        result[col] = ColumnProfile(**kwargs)
    return result
