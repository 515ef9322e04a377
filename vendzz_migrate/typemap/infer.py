"""Infer a mapping from the file's schema and its column profiles.

The declared type is the contract (``declared``): DATE, DATETIME / TIMESTAMP, BOOL / BOOLEAN,
DECIMAL(p,s) / NUMERIC(p,s), BLOB and JSON keep their family whatever the values. Otherwise
the values decide (Vendzz declares INTEGER and stores ISO text): timestamps need a
timestamp-like name or declared type AND values that classify as epoch s / ms or date text (an
INTEGER column needs values: an empty one stays bigint), and never a column that takes part
in a foreign key or is named like a key (``*_id``, ``*Id``); booleans need a flag-like name
AND only 0/1; JSON needs (almost) every value to be a JSON object or array once unwrapped, and
the text that is not JSON is kept as a JSON string. A foreign key column takes the type of the
key it references. A primary key that holds NULLs becomes a UNIQUE constraint (``null_key:
unique``) so that those rows land. Values that do not fit the chosen type are rejected into
the rejects table, never silently altered; the note says which rule decided and how many
values to expect there.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable

from vendzz_migrate.source.collations import case_insensitive
from vendzz_migrate.source.introspect import DEFAULT_SKIP, Column, Schema, Table
from vendzz_migrate.typemap.convert import Kind, OnError
from vendzz_migrate.typemap.declared import KEY_NAME, declared, json_choice
from vendzz_migrate.typemap.defaults import translate
from vendzz_migrate.typemap.mapping import PG_NAME_MAX, ColumnMap, Mapping, NullKey, TableMap
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
_VARCHAR = re.compile(
    r"(?i)\s*(?:n?varchar|character varying|varying character|nchar|char)"
    r"\s*\(\s*(\d+)\s*\)\s*"
)


def infer(
    conn: sqlite3.Connection,
    schema: Schema,
    *,
    rename: Callable[[str], str] | None = None,
    source: str | None = None,
    opener: Callable[[], sqlite3.Connection] | None = None,
    workers: int = 1,
) -> Mapping:
    """The mapping for ``schema``; with ``opener``, columns are profiled ``workers`` at a time."""
    if opener is not None:
        profiles = profile_tables(opener, schema.tables, workers)
    else:
        profiles = {t.name: profile_table(conn, t) for t in schema.tables}
    tables = {t.name: infer_table(t, profiles[t.name], rename) for t in schema.tables}
    match_foreign_keys(schema, tables)
    return Mapping(source=source, skip_tables=list(DEFAULT_SKIP), tables=tables)


def infer_table(
    table: Table, profiles: dict[str, ColumnProfile], rename: Callable[[str], str] | None = None
) -> TableMap:
    """A table's mapping. A name PostgreSQL cannot hold (over 63 bytes) gets a proposed
    rename (see :func:`fit_name`); a rename that would collide with another column's name is
    not proposed. A primary key holding NULLs becomes ``null_key: unique``."""
    in_fk = {c for fk in table.foreign_keys for c in fk.columns}
    null_key = table.rowid_alias is None and any(
        profiles[c].nulls for c in table.primary_key if c in profiles
    )
    columns = {}
    taken = {col.name for col in table.stored_columns}
    for col in table.stored_columns:
        columns[col.name] = infer_column(
            table, col, profiles[col.name], in_fk=col.name in in_fk, null_key=null_key
        )
        new = fit_name(rename(col.name) if rename else col.name)
        if new != col.name and new not in taken:
            columns[col.name].rename = new
            taken.add(new)
        elif new != col.name and fit_name(col.name) != col.name:
            columns[col.name].rename = fit_name(col.name)
    new_name = fit_name(rename(table.name) if rename else table.name)
    if null_key:
        nulls = max(profiles[c].nulls for c in table.primary_key)
        return TableMap(
            rename=new_name if new_name != table.name else None,
            primary_key=[],
            null_key=NullKey.UNIQUE,
            columns=columns,
            note=f"null_key: unique: the primary key ({', '.join(table.primary_key)}) holds"
            f" {nulls} NULL(s), which a PostgreSQL primary key cannot: it became a UNIQUE"
            " constraint (NULLs allowed and distinct, as in SQLite) so those rows land",
        )
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
    head = raw[: PG_NAME_MAX - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head}_{digest}"


def infer_column(
    table: Table, col: Column, prof: ColumnProfile, *, in_fk: bool = False, null_key: bool = False
) -> ColumnMap:
    kind, pg_type, why, *policy = choose(col, prof, is_key=col.pk > 0, in_fk=in_fk)
    if table.rowid_alias == col.name:
        kind, pg_type, why, policy = Kind.INTEGER, "bigint", "rowid alias (identity)", []
    if kind is Kind.TEXT and pg_type == "text" and case_insensitive(col.collation):
        pg_type, why = (
            "citext",
            _join(f"COLLATE {col.collation}: citext (case-insensitive comparisons and LIKE)", why),
        )
    elif col.collation and col.collation.lower() != "binary":
        why = _join(
            why,
            f"COLLATE {col.collation}: not carried over (PostgreSQL compares"
            " with the database's collation)",
        )
    if kind is not Kind.TIMESTAMP and _time_named(col) and (in_fk or KEY_NAME.search(col.name)):
        why = _join(why, "a key (in a foreign key or named *_id): never a timestamp")
    if not why or not why[0].isalpha():  # the values decided: say against which type
        why = _join(
            f"declared {col.decl_type or 'without a type'} ({col.affinity} affinity),"
            f" values fit: {pg_type}",
            why,
        )
    default, warning = translate(col.default, kind)
    note = "; ".join(x for x in (why, prof.summary(), warning) if x)
    return ColumnMap(
        type=pg_type,
        convert=kind,
        not_null=col.not_null or (col.pk > 0 and not null_key),
        default=default,
        note=note,
        on_error=policy[0] if policy else OnError.REJECT,
    )


def match_foreign_keys(schema: Schema, tables: dict[str, TableMap]) -> None:
    """Give every foreign key column the type of the key it references (several passes: a
    key may itself reference another)."""
    for _ in range(4):
        changed = False
        for table in schema.tables:
            for fk in table.foreign_keys:
                parent = tables.get(fk.ref_table)
                if parent is None:
                    continue
                refs = fk.ref_columns or tuple(_source_key(schema, fk.ref_table, parent))
                for child_col, ref in zip(fk.columns, refs, strict=False):
                    changed |= _align(tables[table.name], child_col, fk.ref_table, parent, ref)
        if not changed:
            return


def _source_key(schema: Schema, name: str, tmap: TableMap) -> list[str]:
    if tmap.primary_key:
        return tmap.primary_key
    return list(schema.table(name).primary_key)


def _align(child: TableMap, column: str, parent_name: str, parent: TableMap, ref: str) -> bool:
    mine, theirs = child.columns.get(column), parent.columns.get(ref)
    if mine is None or theirs is None:
        return False
    if (mine.type, mine.convert) == (theirs.type, theirs.convert):
        return False
    rule = f"foreign key: the type of {parent_name}.{ref} ({theirs.type})"
    mine.note = _join(rule, (mine.note or "").split("; ", 1)[-1] if mine.note else "")
    mine.type, mine.convert, mine.on_error = theirs.type, theirs.convert, OnError.REJECT
    return True


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


Choice = tuple[Kind, str, str] | tuple[Kind, str, str, OnError]


def choose(
    col: Column, prof: ColumnProfile, *, is_key: bool = False, in_fk: bool = False
) -> Choice:
    """Pick (conversion, PostgreSQL type, reason) for one column."""
    decided = declared(col, prof)
    if decided is not None:
        return decided
    n = prof.non_null
    key_like = is_key or in_fk or bool(KEY_NAME.search(col.name))
    if prof.blobs and prof.blobs >= n * MAJORITY:
        return Kind.BYTES, "bytea", "blob values"
    if not key_like and _is_timestamp(col, prof):
        return Kind.TIMESTAMP, "timestamptz", "timestamp (epoch s/ms per value, ISO/SQL text)"
    if not key_like and _is_flag(col, prof):
        return Kind.BOOLEAN, "boolean", "0/1 flag"
    if col.affinity in ("INTEGER", "NUMERIC", "BLOB") and n and prof.integers >= n * MAJORITY:
        return Kind.INTEGER, "bigint", _outliers(n - prof.integers, "non-integer")
    if col.affinity == "INTEGER" and not n:
        return Kind.INTEGER, "bigint", "declared INTEGER, no values" if _time_named(col) else ""
    numbers = prof.integers + prof.reals
    if (
        col.affinity == "REAL"
        and n
        and numbers + prof.numeric_text + prof.special_float_text >= n * MAJORITY
    ):
        return _real(col, prof)
    if col.affinity in ("NUMERIC", "BLOB") and n and numbers >= n * MAJORITY:
        return _real(col, prof)
    if col.affinity == "REAL" and not n:
        return Kind.FLOAT, "double precision", ""
    return _text(col, prof, key_like)


def _time_named(col: Column) -> bool:
    return bool(TIME_NAME.search(col.name))


def _outliers(count: int, what: str) -> str:
    return f"{count} {what} value(s) will be rejected" if count > 0 else ""


def _is_timestamp(col: Column, prof: ColumnProfile) -> bool:
    declared = any(t in col.decl_type.upper() for t in ("DATETIME", "TIMESTAMP"))
    if not time_like(col):
        return False
    n = prof.non_null
    if not n:  # no evidence: a declared time type, or a name on a column of no affinity
        return declared or (col.affinity in ("NUMERIC", "BLOB") and _time_named(col))
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
    notes = [
        f"{texts} numeric text value(s) (e.g. 'Infinity') converted" if texts else "",
        _outliers(n - prof.integers - prof.reals - texts, "non-numeric text"),
    ]
    return Kind.FLOAT, "double precision", "; ".join(x for x in notes if x)


def _text(col: Column, prof: ColumnProfile, is_key: bool) -> Choice:
    n = prof.non_null
    json_like = prof.json_container + prof.json_double
    if not is_key and prof.texts and json_like and json_like >= (prof.texts - prof.empty) * 0.9:
        return json_choice(prof, "JSON")
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
