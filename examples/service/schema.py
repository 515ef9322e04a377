"""What the four tables the service touches look like on the database it runs on.

The API speaks the SQLite column names of the data model (``quizId``, ``isPublished``...). Each
column carries its *kind* (the copy's conversion: text, integer, float, decimal, boolean,
timestamp, json, bytes) and its physical name:

- on SQLite the kinds come from the mapping the copy used (``VENDZZ_MAPPING``) or, without one,
  from the copy's own inference over these four tables, so values are read exactly as
  ``sqlite-to-pg`` converts them; a timestamp column is written in the epoch unit most of its
  values use (seconds or milliseconds);
- on PostgreSQL the tables are reflected (SQLAlchemy) in the target schema, kinds come from the
  real column types (timestamptz, jsonb, boolean...), and renames from the mapping the copy
  stored in its state schema (``vendzz_migrate.runs``) or ``VENDZZ_MAPPING``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from vendzz_migrate.errors import ConfigError, VendzzError
from vendzz_migrate.typemap.convert import Conversion, Kind, make
from vendzz_migrate.typemap.mapping import Mapping, TableMap, parse
from vendzz_migrate.typemap.mapping import load as load_mapping

if TYPE_CHECKING:
    import sqlalchemy as sa

TABLES = ("users", "quizzes", "quiz_responses", "response_variables")
MS_FROM = 100_000_000_000  # epoch values at or above 1e11 are milliseconds (the copy's rule)


@dataclass(frozen=True)
class Col:
    name: str  # the data model's (SQLite) name, used by the API
    physical: str  # the column's name in the database the service runs on
    kind: Kind
    conversion: Conversion | None = None  # SQLite only: the copy's reference conversion
    epoch_ms: bool = False  # SQLite only: timestamps written as epoch milliseconds


@dataclass
class TableDef:
    name: str
    table: sa.Table
    cols: dict[str, Col] = field(default_factory=dict)

    def c(self, name: str) -> sa.ColumnElement[Any]:
        """The SQLAlchemy column of logical column ``name``."""
        return self.table.c[self.cols[name].physical]

    def has(self, name: str) -> bool:
        return name in self.cols


def pg_schema(url: str, configured: str | None) -> str:
    """``VENDZZ_SCHEMA``, else the first schema of the URL's ``search_path``, else public."""
    if configured:
        return configured
    options = " ".join(parse_qs(urlsplit(url).query).get("options", []))
    for part in unquote(options).replace("-c ", "-c").split():
        if part.startswith("-csearch_path="):
            first = part.split("=", 1)[1].split(",")[0].strip().strip('"')
            if first and first != "$user":
                return first
    return "public"


def reflect(engine: sa.Engine, schema: str | None, mapping: Mapping | None) -> dict[str, TableDef]:
    """The four tables, reflected, with each column's kind and physical name."""
    import warnings

    import sqlalchemy as sa

    warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
    meta = sa.MetaData(schema=schema)
    defs: dict[str, TableDef] = {}
    for name in TABLES:
        tmap = mapping.tables.get(name) if mapping else None
        physical = (tmap.rename if tmap else None) or name
        try:
            table = sa.Table(physical, meta, autoload_with=engine)
        except sa.exc.NoSuchTableError:
            where = f" in schema {schema!r}" if schema else ""
            reason = f"table {physical!r} not found{where}: is this a Vendzz database?"
            raise ConfigError(reason) from None
        defs[name] = TableDef(name, table, _columns(engine, table, tmap))
    return defs


def _columns(engine: sa.Engine, table: sa.Table, tmap: TableMap | None) -> dict[str, Col]:
    renamed = {(cm.rename or n): n for n, cm in (tmap.columns.items() if tmap else [])}
    cols: dict[str, Col] = {}
    for column in table.columns:
        logical = renamed.get(column.name, column.name)
        if engine.dialect.name == "sqlite":
            cmap = tmap.columns.get(logical) if tmap else None
            kind = cmap.convert if cmap else Kind.TEXT
            conversion = cmap.conversion() if cmap else make(Kind.TEXT, "text")
            ms = kind is Kind.TIMESTAMP and _uses_ms(engine, table.name, column.name)
            cols[logical] = Col(logical, column.name, kind, conversion, ms)
        else:
            cols[logical] = Col(logical, column.name, _pg_kind(column.type))
    return cols


def _pg_kind(sa_type: Any) -> Kind:
    import sqlalchemy as sa

    checks: list[tuple[type[Any], Kind]] = [
        (sa.Boolean, Kind.BOOLEAN), (sa.DateTime, Kind.TIMESTAMP), (sa.JSON, Kind.JSON),
        (sa.Integer, Kind.INTEGER), (sa.Float, Kind.FLOAT), (sa.Numeric, Kind.DECIMAL),
        (sa.LargeBinary, Kind.BYTES),
    ]  # fmt: skip
    for cls, kind in checks:
        if isinstance(sa_type, cls):
            return kind
    return Kind.TEXT


def _uses_ms(engine: sa.Engine, table: str, column: str) -> bool:
    """Whether most integer values of a SQLite timestamp column are epoch milliseconds."""
    import sqlalchemy as sa

    quoted = '"' + column.replace('"', '""') + '"'
    sql = (
        f"SELECT coalesce(sum(v >= {MS_FROM}), 0), coalesce(sum(v < {MS_FROM}), 0) FROM "
        f"(SELECT {quoted} AS v FROM \"{table}\" WHERE typeof({quoted}) = 'integer' LIMIT 1000)"
    )
    with engine.connect() as conn:
        ms, s = conn.execute(sa.text(sql)).one()
    return bool(ms > s)


def sqlite_mapping(path: Path, mapping_file: Path | None) -> Mapping:
    """The copy's mapping for the four tables: ``VENDZZ_MAPPING``, else inferred from the file."""
    if mapping_file is not None:
        return load_mapping(mapping_file)
    from vendzz_migrate.source import introspect as insp
    from vendzz_migrate.source import open_readonly
    from vendzz_migrate.typemap import infer

    lite = open_readonly(path)
    lite.text_factory = bytes
    try:
        schema = insp.introspect(lite)
        wanted = tuple(t for t in schema.tables if t.name in TABLES)
        missing = sorted(set(TABLES) - {t.name for t in wanted})
        if missing:
            reason = f"{path}: no table {missing[0]!r}: is this a Vendzz database?"
            raise ConfigError(reason) from None
        return infer.infer(lite, insp.Schema(tables=wanted), source=str(path))
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path}: not a readable SQLite file: {exc}") from None
    finally:
        lite.close()


def stored_mapping(
    engine: sa.Engine, state_schema: str, target_schema: str, mapping_file: Path | None
) -> Mapping | None:
    """The mapping the last finished copy into ``target_schema`` stored, if any."""
    if mapping_file is not None:
        return load_mapping(mapping_file)
    import sqlalchemy as sa

    sql = sa.text(
        f'SELECT mapping FROM "{state_schema}".runs WHERE target_schema = :schema '
        "ORDER BY (status = 'done') DESC, started_at DESC LIMIT 1"
    )
    with engine.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT to_regclass(:t)"), {"t": f'"{state_schema}".runs'}
        ).scalar()
        if exists is None:
            return None
        data = conn.execute(sql, {"schema": target_schema}).scalar()
    if data is None:
        return None
    try:
        return parse(data, where=f"{state_schema}.runs.mapping")
    except VendzzError:
        return None
