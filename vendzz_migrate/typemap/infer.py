"""Infer a mapping from the file's schema and its column profiles.

Decided from the values, not from the declared type alone (Vendzz declares INTEGER and stores
ISO text): timestamps need a timestamp-like name or declared type AND values that classify as
epoch s / ms or date text; booleans need a flag-like name AND only 0/1; JSON needs (almost) every
value to be a JSON object or array once unwrapped. Values that do not fit the chosen type are
rejected into the rejects table, never silently altered; the note says how many to expect.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable

from vendzz_migrate.source.introspect import DEFAULT_SKIP, Column, Schema, Table
from vendzz_migrate.typemap.convert import Kind, OnError
from vendzz_migrate.typemap.defaults import translate
from vendzz_migrate.typemap.mapping import PG_NAME_MAX, ColumnMap, Mapping, TableMap
from vendzz_migrate.typemap.profile import (
    TIME_NAME,
    ColumnProfile,
    profile_table,
    profile_tables,
    time_like,
)

MAJORITY = 0.99  # share of values that must fit a narrower type for it to be chosen
_FLAG_NAME = re.compile(
    r"^(is|has|can|should|enable|allow|use|show|detect|cancel|safe|debug|pixel)[_A-Z]"
    r"|(?i:(enabled|active|blocked|required|resolved|completed|used|verified|read|locked|pinned"
    r"|moderated|published|mode_on))$|^(?i:active|used|resolved|completed|verified)$"
)
_MONEY_NAME = re.compile(r"(?i)(price|amount|fee|revenue|commission|cost|total_amount|balance)")
_VARCHAR = re.compile(r"(?i)\s*(?:n?varchar|character varying|varying character|nchar|char)"
                      r"\s*\(\s*(\d+)\s*\)\s*")


def infer(conn: sqlite3.Connection, schema: Schema, *, rename: Callable[[str], str] | None = None,
          source: str | None = None, opener: Callable[[], sqlite3.Connection] | None = None,
          workers: int = 1) -> Mapping:
    """The mapping for ``schema``; with ``opener``, columns are profiled ``workers`` at a time."""
    if opener is not None:
        profiles = profile_tables(opener, schema.tables, workers)
    else:
        profiles = {t.name: profile_table(conn, t) for t in schema.tables}
    tables = {t.name: infer_table(t, profiles[t.name], rename) for t in schema.tables}
    return Mapping(source=source, skip_tables=list(DEFAULT_SKIP), tables=tables)


def infer_table(table: Table, profiles: dict[str, ColumnProfile],
                rename: Callable[[str], str] | None = None) -> TableMap:
    """A table's mapping. A name PostgreSQL cannot hold (over 63 bytes) gets a proposed
    rename (see :func:`fit_name`); a rename that would collide with another column's name is
    not proposed."""
    columns = {}
    taken = {col.name for col in table.stored_columns}
    for col in table.stored_columns:
        columns[col.name] = infer_column(table, col, profiles[col.name])
        new = fit_name(rename(col.name) if rename else col.name)
        if new != col.name and new not in taken:
            columns[col.name].rename = new
            taken.add(new)
        elif new != col.name and fit_name(col.name) != col.name:
            columns[col.name].rename = fit_name(col.name)
    new_name = fit_name(rename(table.name) if rename else table.name)
    return TableMap(
        rename=new_name if new_name != table.name else None,
        primary_key=list(table.primary_key),
        columns=columns,
    )


def fit_name(name: str) -> str:
    """``name``, or when it is longer than PostgreSQL's 63 bytes, its first bytes and a short
    hash of the whole (two long names with the same start stay distinct)."""
    raw = name.encode("utf-8")
    if len(raw) <= PG_NAME_MAX:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:8]
    head = raw[:PG_NAME_MAX - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head}_{digest}"


def infer_column(table: Table, col: Column, prof: ColumnProfile) -> ColumnMap:
    kind, pg_type, why, *policy = choose(col, prof, is_key=col.pk > 0)
    if table.rowid_alias == col.name:
        kind, pg_type, why, policy = Kind.INTEGER, "bigint", "rowid alias (identity)", []
    default, warning = translate(col.default, kind)
    note = "; ".join(x for x in (why, prof.summary(), warning) if x)
    return ColumnMap(
        type=pg_type, convert=kind, not_null=col.not_null or col.pk > 0,
        default=default, note=note, on_error=policy[0] if policy else OnError.REJECT,
    )


Choice = tuple[Kind, str, str] | tuple[Kind, str, str, OnError]


def choose(col: Column, prof: ColumnProfile, *, is_key: bool = False) -> Choice:
    """Pick (conversion, PostgreSQL type, reason) for one column."""
    n = prof.non_null
    if prof.blobs and prof.blobs >= n * MAJORITY:
        return Kind.BYTES, "bytea", "blob values"
    if not is_key and _is_timestamp(col, prof):
        return Kind.TIMESTAMP, "timestamptz", "timestamp (epoch s/ms per value, ISO/SQL text)"
    if not is_key and _is_flag(col, prof):
        return Kind.BOOLEAN, "boolean", "0/1 flag"
    if col.affinity in ("INTEGER", "NUMERIC", "BLOB") and n and prof.integers >= n * MAJORITY:
        return Kind.INTEGER, "bigint", _outliers(n - prof.integers, "non-integer")
    if col.affinity == "INTEGER" and not n:
        return Kind.INTEGER, "bigint", ""
    numbers = prof.integers + prof.reals
    if col.affinity == "REAL" and n and \
            numbers + prof.numeric_text + prof.special_float_text >= n * MAJORITY:
        return _real(col, prof)
    if col.affinity in ("NUMERIC", "BLOB") and n and numbers >= n * MAJORITY:
        return _real(col, prof)
    if col.affinity == "REAL" and not n:
        return Kind.FLOAT, "double precision", ""
    return _text(col, prof, is_key)


def _outliers(count: int, what: str) -> str:
    return f"{count} {what} value(s) will be rejected" if count > 0 else ""


def _is_timestamp(col: Column, prof: ColumnProfile) -> bool:
    declared = any(t in col.decl_type.upper() for t in ("DATETIME", "TIMESTAMP"))
    if not time_like(col):
        return False
    n = prof.non_null
    if not n:
        return declared or (col.affinity == "INTEGER" and bool(TIME_NAME.search(col.name)))
    if prof.date_only and prof.date_only == prof.texts and not prof.integers:
        return False  # 'YYYY-MM-DD' day keys stay text
    return prof.epoch_s + prof.epoch_ms + prof.iso_text >= n * MAJORITY


def _is_flag(col: Column, prof: ColumnProfile) -> bool:
    if col.affinity not in ("INTEGER", "NUMERIC") or not _FLAG_NAME.search(col.name):
        return False
    return prof.zero_one == prof.non_null


def _real(col: Column, prof: ColumnProfile) -> Choice:
    n = prof.non_null
    fits_cents = prof.real_2dp == prof.reals and (prof.real_max_abs or 0) < 1e10
    if _MONEY_NAME.search(col.name) and fits_cents and prof.integers + prof.reals == n:
        return Kind.DECIMAL, "numeric(12,2)", "money: every value has at most 2 decimals"
    texts = prof.numeric_text + prof.special_float_text
    notes = [f"{texts} numeric text value(s) (e.g. 'Infinity') converted" if texts else "",
             _outliers(n - prof.integers - prof.reals - texts, "non-numeric text")]
    return Kind.FLOAT, "double precision", "; ".join(x for x in notes if x)


def _text(col: Column, prof: ColumnProfile, is_key: bool) -> Choice:
    n = prof.non_null
    json_like = prof.json_container + prof.json_double
    if not is_key and prof.texts and json_like and json_like >= (prof.texts - prof.empty) * 0.9:
        bad = prof.texts - prof.json_container - prof.json_scalar
        why = "JSON" + (f", {prof.json_double} double-encoded (unwrapped)"
                        if prof.json_double else "")
        if prof.empty and bad == prof.empty:
            why += f"; {prof.empty} empty '' kept as the JSON string \"\" (on_error: wrap)"
            return Kind.JSON, "jsonb", why, OnError.WRAP
        return Kind.JSON, "jsonb", "; ".join(x for x in (why, _outliers(bad, "invalid JSON")) if x)
    notes = [_outliers(prof.nul_bytes, "NUL-byte")]
    match = _VARCHAR.fullmatch(col.decl_type)
    if match and (prof.max_length or 0) <= int(match.group(1)):
        return Kind.TEXT, f"varchar({match.group(1)})", "; ".join(x for x in notes if x)
    if match:
        notes.append(f"declared {col.decl_type} but values up to {prof.max_length} chars: text")
    if n and prof.texts < n:
        notes.append(f"{n - prof.texts} non-text value(s) converted to text")
    return Kind.TEXT, "text", "; ".join(x for x in notes if x)


def snake_case(name: str) -> str:
    """``createdAt`` -> ``created_at`` (the planned PostgreSQL schema's convention)."""
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    out = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", out)
    return out.lower()
