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
from typing import Any, NamedTuple

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import qi

DEFAULT_SKIP = ("sqlite_*", "__drizzle_migrations")
FTS_MODULES = ("fts3", "fts4", "fts5")
_FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config", "_segments", "_segdir", "_stat")
_VIRTUAL = re.compile(
    r"^\s*CREATE\s+VIRTUAL\s+TABLE\s.*?\bUSING\s+(\w+)\s*(?:\((.*)\))?\s*$", re.I | re.S
)
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
    collation: str | None = None  # the declared COLLATE name (NOCASE, RTRIM, a custom one)

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
    module: str | None = None  # a virtual table's module (fts5, fts4, rtree...), lower case
    fts_content: str | None = None  # FTS option content=: '' contentless, else the table

    @property
    def is_fts(self) -> bool:
        return self.module in FTS_MODULES

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


class ExternalFts(NamedTuple):
    """An external-content FTS table: its text is in ``content``'s ``columns``."""

    fts: str
    content: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    views: tuple[View, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    skipped: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[tuple[str, str], ...] = ()  # (object, why it was skipped or replaced)
    # external-content FTS tables: (FTS table, content table, indexed columns)
    fts_external: tuple[ExternalFts, ...] = ()

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def skip_notes(self) -> list[tuple[str, str]]:
        """Every skipped table with why (listed in the copy's summary and ``--json``)."""
        why = dict(self.notes)
        return [
            (
                name,
                why.get(
                    name,
                    "skipped: matches skip_tables (SQLite's own or the"
                    " migration tool's bookkeeping)",
                ),
            )
            for name in self.skipped
        ]


def skipped(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def introspect(conn: sqlite3.Connection, skip: Iterable[str] = DEFAULT_SKIP) -> Schema:
    """Read every table, view and trigger of the file (skipping ``skip`` glob patterns).

    FTS shadow tables (an FTS table's own index storage) are always skipped with a note, and
    so is an FTS table whose content lives in another table (``content=``) or nowhere
    (contentless): see :func:`_virtual_skip`. A virtual table of a module this SQLite lacks
    is a :class:`SourceError` naming the module."""
    skip = tuple(skip)
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type IN ('table','view','trigger') ORDER BY type, name"
    ).fetchall()
    entries = [tuple(_s(v or b"") for v in raw_row) for raw_row in rows]
    shadows = _shadow_tables([(n, sql) for k, n, _t, sql in entries if k == "table"])
    tables: list[Table] = []
    views: list[View] = []
    triggers: list[Trigger] = []
    dropped: list[str] = []
    notes: list[tuple[str, str]] = []
    external: list[ExternalFts] = []
    for kind, name, tbl_name, sql in entries:
        if skipped(name, (TOOL_OBJECTS,)):
            continue
        if kind == "table" and (skipped(name, skip) or name in shadows):
            dropped.append(name)
            if name in shadows:
                notes.append((name, shadows[name]))
        elif kind == "table":
            table = _table(conn, name, sql)
            why = _virtual_skip(table)
            if why:
                dropped.append(name)
                notes.append((name, why))
                if table.fts_content:
                    columns = tuple(c.name for c in table.columns)
                    external.append(ExternalFts(name, table.fts_content, columns))
            else:
                tables.append(table)
        elif kind == "view":
            views.append(View(name, sql))
        elif not skipped(tbl_name, skip) and tbl_name not in dropped:
            triggers.append(Trigger(name, tbl_name, sql))
    return Schema(
        tuple(tables), tuple(views), tuple(triggers), tuple(dropped), tuple(notes), tuple(external)
    )


def _shadow_tables(tables: list[tuple[str, str]]) -> dict[str, str]:
    """Shadow tables of the file's FTS tables (name -> note)."""
    out: dict[str, str] = {}
    names = {n for n, _sql in tables}
    for name, sql in tables:
        match = _VIRTUAL.match(sql)
        if not match or match.group(1).lower() not in FTS_MODULES:
            continue
        for suffix in _FTS_SHADOWS:
            if name + suffix in names:
                out[name + suffix] = (
                    f"skipped: shadow table of the full-text table {name}"
                    " (SQLite's own index storage; PostgreSQL builds its own)"
                )
    return out


def _virtual_skip(table: Table) -> str | None:
    """Why a virtual table is not copied, or None (an FTS table holding its own content)."""
    if table.module is None or not table.is_fts:
        return None
    if table.fts_content == "":
        return (
            "skipped: contentless full-text table (content=''): it holds no text to copy;"
            " index the source columns in PostgreSQL (README: full-text tables)"
        )
    if table.fts_content is not None:
        return (
            f"skipped: full-text index over the table {table.fts_content} (external"
            f" content): that table is copied, with a GIN index over the same columns in"
            " its place (README: full-text tables)"
        )
    return None


def _s(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    generated = _generated_expressions(sql)
    collations = _collations(sql)
    virtual = _VIRTUAL.match(sql)
    module = virtual.group(1).lower() if virtual else None
    columns = []
    try:
        info = conn.execute(f"PRAGMA table_xinfo({qi(name)})").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such module" in str(exc):
            raise SourceError(
                f"table {name!r} is a virtual table of the SQLite module {module!r}, which this"
                " SQLite lacks: add it to skip_tables in the mapping to copy the rest"
            ) from None
        raise
    for _cid, raw_name, ctype, notnull, dflt, pk, hidden in info:
        cname = _s(raw_name)
        if hidden == 1:  # a virtual table's hidden column (FTS: the table's name, rank...)
            continue
        columns.append(
            Column(
                name=cname,
                decl_type=_s(ctype or ""),
                not_null=bool(notnull),
                default=_s(dflt) if dflt is not None else None,
                pk=int(pk),
                generated=generated.get(cname, "") if hidden in (2, 3) else None,
                generated_stored=hidden == 3,
                collation=collations.get(cname.lower()),
            )
        )
    flat = re.sub(r"\s+", " ", sql).upper()
    return Table(
        name=name,
        columns=tuple(columns),
        sql=sql,
        without_rowid=bool(re.search(r"\)\s*WITHOUT\s+ROWID", flat)),
        autoincrement="AUTOINCREMENT" in flat,
        indexes=tuple(_indexes(conn, name)) if module is None else (),
        foreign_keys=tuple(_foreign_keys(conn, name)) if module is None else (),
        checks=tuple(_checks(sql)) if module is None else (),
        module=module,
        fts_content=_fts_content(virtual.group(2) or "")
        if virtual and module in FTS_MODULES
        else None,
    )


def _fts_content(args: str) -> str | None:
    """The FTS ``content=`` option: None when absent (the table holds its text)."""
    match = re.search(
        r"(?:^|,)\s*content\s*=\s*(?:'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|(\w+))", args, re.I
    )
    if not match:
        return None
    quoted, dquoted, bare = match.groups()
    if quoted is not None:
        return quoted.replace("''", "'")
    return dquoted.replace('""', '"') if dquoted is not None else bare


_MAY_COLLATE = re.compile(r"\bCOLLATE\b", re.I)


def _column_constraints(sql: str, may: re.Pattern[str]) -> Iterable[tuple[Any, Any]]:
    """(column definition, constraint kind) of each column constraint in a CREATE TABLE, when
    ``may`` (a cheap test with false positives only) says the parse is worth it."""
    if not may.search(sql):
        return
    import sqlglot.expressions as exp

    tree = _parse(sql)
    if not isinstance(tree, exp.Expression):
        return
    for coldef in tree.find_all(exp.ColumnDef):
        for constraint in coldef.args.get("constraints") or []:
            yield coldef, constraint.args.get("kind")


def _collations(sql: str) -> dict[str, str]:
    """Column name (lower case) -> its declared COLLATE name."""
    if not _MAY_COLLATE.search(sql):  # the parser is imported only for a table that needs it
        return {}
    import sqlglot.expressions as exp

    return {
        coldef.name.lower(): kind.this.name
        for coldef, kind in _column_constraints(sql, _MAY_COLLATE)
        if isinstance(kind, exp.CollateColumnConstraint)
    }


def _indexes(conn: sqlite3.Connection, table: str) -> Iterable[Index]:
    sqls = {
        _s(n): _s(s)
        for n, s in conn.execute(
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
            )
            if key
        )
        sql = sqls.get(name)
        where = None
        if partial and sql:
            match = re.search(r"\bWHERE\b(.*)$", sql, re.I | re.S)
            where = match.group(1).strip() if match else None
        yield Index(name, bool(unique), _s(origin), cols, sql or None, where)


class _FkColumn(NamedTuple):
    """One row of ``PRAGMA foreign_key_list``: a column of a foreign key."""

    column: str
    ref_column: str | None  # None: the parent's primary key
    ref_table: str
    on_update: str
    on_delete: str


def _foreign_keys(conn: sqlite3.Connection, table: str) -> Iterable[ForeignKey]:
    groups: dict[int, list[_FkColumn]] = {}
    for fid, _seq, ref, src, dst, on_update, on_delete, _match in conn.execute(
        f"PRAGMA foreign_key_list({qi(table)})"
    ):
        groups.setdefault(fid, []).append(
            _FkColumn(
                _s(src), _s(dst) if dst is not None else None, _s(ref), _s(on_update), _s(on_delete)
            )
        )
    for parts in groups.values():
        first = parts[0]
        yield ForeignKey(
            columns=tuple(p.column for p in parts),
            ref_table=first.ref_table,
            ref_columns=tuple(p.ref_column for p in parts if p.ref_column is not None),
            on_update=first.on_update,
            on_delete=first.on_delete,
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

    found: dict[str, str] = {}
    for coldef, kind in _column_constraints(sql, _MAY_GENERATE):
        if isinstance(kind, exp.ComputedColumnConstraint):
            found[coldef.name] = kind.this.sql(dialect="sqlite")
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and kind.expression:
            found[coldef.name] = kind.expression.sql(dialect="sqlite")
    return found
