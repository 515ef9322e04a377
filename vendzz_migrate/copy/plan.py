"""From schema + mapping to per-table copy plans (and, with --data-only, from the target's
existing columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendzz_migrate.errors import ConfigError, StateError
from vendzz_migrate.source.introspect import Schema
from vendzz_migrate.source.reader import ColumnPlan, TablePlan
from vendzz_migrate.typemap.convert import kind_for, make
from vendzz_migrate.typemap.mapping import Mapping

if TYPE_CHECKING:
    import psycopg


def check_mapping(mapping: Mapping, schema: Schema) -> None:
    """The mapping must describe this very file: every table and column, nothing extra."""
    source_tables = {t.name for t in schema.tables}
    for name in mapping.tables:
        if name not in source_tables and name not in schema.skipped:
            raise ConfigError(f"mapping: tables.{name}: no such table in the source file")
    for table in schema.tables:
        tmap = mapping.tables.get(table.name)
        if tmap is None:
            raise ConfigError(
                f"mapping: tables: no entry for source table {table.name!r} "
                "(rerun `schema infer`, or add it with skip: true)"
            )
        stored = {c.name for c in table.stored_columns}
        for col in tmap.columns:
            if col not in stored:
                raise ConfigError(f"mapping: tables.{table.name}.columns.{col}: no such column")
        for col in stored - set(tmap.columns):
            if not tmap.skip:
                raise ConfigError(f"mapping: tables.{table.name}.columns: no entry for {col!r}")
        for key in tmap.primary_key:
            if key not in stored:
                raise ConfigError(f"mapping: tables.{table.name}.primary_key: no column {key!r}")


def build(mapping: Mapping, schema: Schema) -> dict[str, TablePlan]:
    check_mapping(mapping, schema)
    plans: dict[str, TablePlan] = {}
    for table in schema.tables:
        tmap = mapping.tables[table.name]
        if tmap.skip:
            continue
        columns = tuple(
            ColumnPlan(
                c.name, tmap.columns[c.name].rename or c.name, tmap.columns[c.name].conversion()
            )
            for c in table.stored_columns
        )
        plans[table.name] = TablePlan(table, tmap.rename or table.name, columns)
    return plans


def build_data_only(
    conn: psycopg.Connection, target_schema: str, mapping: Mapping, schema: Schema
) -> tuple[dict[str, TablePlan], list[tuple[str, str]]]:
    """Plans against the columns that already exist in the target; notes for every mismatch."""
    check_mapping(mapping, schema)
    existing = _target_columns(conn, target_schema)
    plans: dict[str, TablePlan] = {}
    notes: list[tuple[str, str]] = []
    missing_tables = []
    for table in schema.tables:
        tmap = mapping.tables[table.name]
        target = tmap.rename or table.name
        if tmap.skip:
            continue
        if target not in existing:
            missing_tables.append(target)
            continue
        cols = existing[target]
        plan_cols = []
        for col in table.stored_columns:
            name = tmap.columns[col.name].rename or col.name
            if name not in cols:
                notes.append(
                    (
                        f"{table.name}.{col.name}",
                        "column missing in the target: its values are NOT copied",
                    )
                )
                continue
            pg_type, not_null = cols[name]
            plan_cols.append(
                ColumnPlan(
                    col.name,
                    name,
                    make(kind_for(pg_type), pg_type, not_null, tmap.columns[col.name].on_error),
                )
            )
        for name in set(cols) - {c.target for c in plan_cols}:
            notes.append((f"{target}.{name}", "column only in the target: left to its default"))
        plans[table.name] = TablePlan(table, target, tuple(plan_cols))
    if missing_tables:
        raise StateError(
            f"--data-only: the target schema {target_schema!r} has no table "
            f"{', '.join(missing_tables[:5])}; create the schema first"
        )
    return plans, notes


def _target_columns(
    conn: psycopg.Connection, schema: str
) -> dict[str, dict[str, tuple[str, bool]]]:
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0"
        " AND NOT a.attisdropped AND a.attgenerated = ''",
        (schema,),
    ).fetchall()
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for rel, att, typ, notnull in rows:
        out.setdefault(str(rel), {})[str(att)] = (str(typ), bool(notnull))
    return out
