"""Introspection of the real SQLite file (never of an ORM schema): PRAGMAs plus sqlglot.

Vendzz's schema is defined in four places that disagree, so only the file tells the truth:
columns (ALTER-added ones last), WITHOUT ROWID, composite or absent keys, AUTOINCREMENT,
generated columns, defaults, CHECKs, unique / partial / expression indexes, foreign keys,
views and triggers.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from vendzz_migrate.source import qi

DEFAULT_SKIP = ("sqlite_*", "__drizzle_migrations")
TOOL_OBJECTS = "_vendzz_capture*"  # the cutover's change capture (cutover/capture.py): never data


def affinity(declared: str) -> str:
    """SQLite's column affinity rules (section 3.1 of the datatype docs)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(s in t for s in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(s in t for s in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


@dataclass(frozen=True)
class Column:
    name: str
    decl_type: str
    not_null: bool
    default: str | None
    pk: int  # 1-based position in the primary key, 0 when not part of it
    generated: str | None = None  # expression of a generated column
    generated_stored: bool = False

    @property
    def affinity(self) -> str:
        return affinity(self.decl_type)


@dataclass(frozen=True)
class Index:
    name: str
    unique: bool
    origin: str  # 'c' CREATE INDEX, 'u' UNIQUE constraint, 'pk' PRIMARY KEY
    columns: tuple[str | None, ...]  # None marks an expression
    sql: str | None
    where: str | None = None

    @property
    def has_expressions(self) -> bool:
        return any(c is None for c in self.columns)


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]  # empty: the parent's primary key
    on_delete: str
    on_update: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    sql: str
    without_rowid: bool = False
    autoincrement: bool = False
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[str, ...] = ()

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in sorted(self.columns, key=lambda c: c.pk) if c.pk)

    @property
    def rowid_alias(self) -> str | None:
        """The INTEGER PRIMARY KEY column that aliases rowid, if any."""
        pk = [c for c in self.columns if c.pk]
        if self.without_rowid or len(pk) != 1 or pk[0].decl_type.upper() != "INTEGER":
            return None
        return pk[0].name

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Columns that hold data (generated columns are recomputed by PostgreSQL)."""
        return tuple(c for c in self.columns if c.generated is None)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class View:
    name: str
    sql: str


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    sql: str


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    views: tuple[View, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    skipped: tuple[str, ...] = field(default_factory=tuple)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


def skipped(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def introspect(conn: sqlite3.Connection, skip: Iterable[str] = DEFAULT_SKIP) -> Schema:
    """Read every table, view and trigger of the file (skipping ``skip`` glob patterns)."""
    skip = tuple(skip)
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type IN ('table','view','trigger') ORDER BY type, name"
    ).fetchall()
    tables: list[Table] = []
    views: list[View] = []
    triggers: list[Trigger] = []
    dropped: list[str] = []
    for raw_row in rows:
        kind, name, tbl_name, sql = (_s(v or b"") for v in raw_row)
        if skipped(name, (TOOL_OBJECTS,)):
            continue
        if kind == "table" and skipped(name, skip):
            dropped.append(name)
        elif kind == "table":
            tables.append(_table(conn, name, sql))
        elif kind == "view":
            views.append(View(name, sql))
        elif not skipped(tbl_name, skip):
            triggers.append(Trigger(name, tbl_name, sql))
    return Schema(tuple(tables), tuple(views), tuple(triggers), tuple(dropped))


def _s(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    generated = _generated_expressions(sql)
    columns = []
    for _cid, raw_name, ctype, notnull, dflt, pk, hidden in conn.execute(
        f"PRAGMA table_xinfo({qi(name)})"
    ):
        cname = _s(raw_name)
        columns.append(Column(
            name=cname, decl_type=_s(ctype or ""), not_null=bool(notnull),
            default=_s(dflt) if dflt is not None else None, pk=int(pk),
            generated=generated.get(cname, "") if hidden in (2, 3) else None,
            generated_stored=hidden == 3,
        ))
    flat = re.sub(r"\s+", " ", sql).upper()
    return Table(
        name=name, columns=tuple(columns), sql=sql,
        without_rowid=bool(re.search(r"\)\s*WITHOUT\s+ROWID", flat)),
        autoincrement="AUTOINCREMENT" in flat,
        indexes=tuple(_indexes(conn, name)),
        foreign_keys=tuple(_foreign_keys(conn, name)),
        checks=tuple(_checks(sql)),
    )


def _indexes(conn: sqlite3.Connection, table: str) -> Iterable[Index]:
    sqls = {
        _s(n): _s(s) for n, s in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        )
    }
    for _seq, raw_name, unique, raw_origin, partial in conn.execute(
        f"PRAGMA index_list({qi(table)})"
    ):
        name, origin = _s(raw_name), _s(raw_origin)
        cols = tuple(
            _s(cname) if cid >= 0 else (None if cid == -2 else "rowid")
            for _seqno, cid, cname, _desc, _coll, key in conn.execute(
                f"PRAGMA index_xinfo({qi(name)})"
            ) if key
        )
        sql = sqls.get(name)
        where = None
        if partial and sql:
            match = re.search(r"\bWHERE\b(.*)$", sql, re.I | re.S)
            where = match.group(1).strip() if match else None
        yield Index(name, bool(unique), _s(origin), cols, sql or None, where)


def _foreign_keys(conn: sqlite3.Connection, table: str) -> Iterable[ForeignKey]:
    groups: dict[int, list[tuple[str, str | None, str, str, str]]] = {}
    for fid, _seq, ref, src, dst, on_update, on_delete, _match in conn.execute(
        f"PRAGMA foreign_key_list({qi(table)})"
    ):
        groups.setdefault(fid, []).append(
            (_s(src), _s(dst) if dst is not None else None, _s(ref), _s(on_update), _s(on_delete))
        )
    for parts in groups.values():
        ref_cols = tuple(p[1] for p in parts if p[1] is not None)
        yield ForeignKey(
            columns=tuple(p[0] for p in parts), ref_table=parts[0][2], ref_columns=ref_cols,
            on_update=parts[0][3], on_delete=parts[0][4],
        )


@functools.lru_cache(maxsize=256)
def _parse(sql: str) -> object | None:
    """The parsed CREATE TABLE (shared by the two readers below: one parse per table)."""
    import sqlglot

    try:
        return sqlglot.parse_one(sql, read="sqlite")
    except Exception:  # sqlglot raises many types; an unparsable schema only loses extras
        return None


# tables whose DDL may hold a CHECK constraint or a generated column: only those are parsed
# (the parser is imported the first time one is), a cheap test with false positives only
_MAY_CHECK = re.compile(r"\bCHECK\b", re.I)
_MAY_GENERATE = re.compile(r"\bGENERATED\b|\bAS\b", re.I)


def _checks(sql: str) -> Iterable[str]:
    if not _MAY_CHECK.search(sql):
        return
    import sqlglot.expressions as exp

    tree = _parse(sql)
    if not isinstance(tree, exp.Expression):
        return
    for node in tree.find_all(exp.CheckColumnConstraint):
        yield node.this.sql(dialect="sqlite")


def _generated_expressions(sql: str) -> dict[str, str]:
    if not _MAY_GENERATE.search(sql):
        return {}
    import sqlglot.expressions as exp

    tree = _parse(sql)
    found: dict[str, str] = {}
    if not isinstance(tree, exp.Expression):
        return found
    for coldef in tree.find_all(exp.ColumnDef):
        for constraint in coldef.args.get("constraints") or []:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.ComputedColumnConstraint):
                found[coldef.name] = kind.this.sql(dialect="sqlite")
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and kind.expression:
                found[coldef.name] = kind.expression.sql(dialect="sqlite")
    return found
