"""Schema checks: every table and column with its mapped type, primary keys, each index (or
its documented replacement), foreign keys (valid, or NOT VALID with orphans), views, triggers
and sequences past max(id).

A source index, foreign key, view or trigger absent from PostgreSQL is a difference unless the
mapping drops it (``drop:``) or its replacement is one the README documents (a GIN index for a
btree over JSON, an index repeating a unique one, an index over text too long for a btree, a
primary key holding NULLs kept as a UNIQUE index, a trigger left to translate by hand): the
copy records which as a typed :class:`~vendzz_migrate.state.records.Replacement` beside its
note, and only that record counts, never the note's wording. A note that only says why
PostgreSQL refused it does not excuse it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from vendzz_migrate.copy import ddl
from vendzz_migrate.pg import classify, ident, qualified
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.records import DocumentedNote, Replaced, Replacement
from vendzz_migrate.typemap.mapping import Mapping, NullKey
from vendzz_migrate.verify.model import SchemaCheck, Status

if TYPE_CHECKING:
    import psycopg

_ALIASES = {
    "int8": "bigint",
    "int": "integer",
    "int4": "integer",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
    "decimal": "numeric",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "varchar": "character varying",
    "char": "character",
}


def normalise_type(text: str) -> str:
    """A PostgreSQL type name as format_type() prints it (aliases, spaces, typmods)."""
    flat = re.sub(r"\s+", " ", text.strip().lower())
    flat = re.sub(r"\s*\(\s*", "(", re.sub(r"\s*,\s*", ",", re.sub(r"\s*\)", ")", flat)))
    match = re.fullmatch(r"([a-z0-9 ]+?)(\(.*\))?", flat)
    if not match:
        return flat
    name, mods = match.group(1), match.group(2) or ""
    return _ALIASES.get(name, name) + mods


class PgIndex(NamedTuple):
    """An index of the target schema (``columns``: key columns in order, None: expression)."""

    name: str
    table: str
    unique: bool
    method: str  # btree, gin...
    columns: list[str | None]


class PgConstraint(NamedTuple):
    """A primary key (``p``), unique (``u``) or foreign key (``f``) of the target schema."""

    name: str
    table: str
    kind: str
    valid: bool
    columns: list[str]
    ref_table: str | None


class PgTrigger(NamedTuple):
    """A trigger of the target schema (internal ones left out)."""

    name: str
    table: str


@dataclass
class Catalog:
    relations: dict[str, str] = field(default_factory=dict)  # name -> relkind
    indexes: list[PgIndex] = field(default_factory=list)
    constraints: list[PgConstraint] = field(default_factory=list)
    triggers: list[PgTrigger] = field(default_factory=list)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)
    documented: dict[str, DocumentedNote] = field(default_factory=dict)  # by source object

    def replacement(self, mapping: Mapping, *names: str) -> DocumentedNote | None:
        """How the object (known by any of ``names``) is documented as replaced, if it is:
        the mapping's drop, else the copy's typed record."""
        for name in names:
            if mapping.drops(name):
                return DocumentedNote(name, ddl.DROPPED, Replacement(Replaced.DROPPED, name))
        return next((self.documented[n] for n in names if n in self.documented), None)


ObjectKind = Literal["index", "foreign key", "view", "trigger"]


def _absent(
    kind: ObjectKind, obj: str, names: Sequence[str], cat: Catalog, mapping: Mapping
) -> SchemaCheck:
    """An object missing in the target: documented, or a difference with PostgreSQL's reason."""
    why = cat.replacement(mapping, *names)
    if why is not None:
        return SchemaCheck(kind=kind, object=obj, status=Status.DOCUMENTED, detail=why.message)
    notes = [n for name in names for n in cat.notes.get(name, [])]
    detail = f"missing in the target: {notes[0]}" if notes else "missing in the target"
    return SchemaCheck(kind=kind, object=obj, status=Status.MISMATCH, detail=detail)


def _sql(name: str) -> bytes:
    text = resources.files("vendzz_migrate.verify").joinpath(f"sql/{name}.sql").read_text()
    return text.encode()


def _fetch(conn: psycopg.Connection, name: str, schema: str) -> list[Any]:
    import psycopg

    try:
        return conn.execute(_sql(name), {"schema": schema}).fetchall()
    except psycopg.Error as exc:
        raise classify(exc) from None


def catalog(
    conn: psycopg.Connection,
    schema: str,
    columns: dict[str, dict[str, str]],
    notes: Sequence[tuple[str, str]],
    orphans: dict[str, int],
    documented: Sequence[DocumentedNote] = (),
) -> Catalog:
    """The target schema's catalog, with the copy's notes (for humans), the replacements it
    recorded (what decides) and its orphans."""
    cat = Catalog(columns=columns, orphans=orphans)
    cat.relations = {str(n): str(k) for n, k in _fetch(conn, "relations", schema)}
    cat.indexes = [
        PgIndex(str(i), str(t), bool(u), str(m), list(c))
        for i, t, u, m, c in _fetch(conn, "indexes", schema)
    ]
    cat.constraints = [
        PgConstraint(str(n), str(t), str(k), bool(v), list(c), r)
        for n, t, k, v, c, r in _fetch(conn, "constraints", schema)
    ]
    cat.triggers = [PgTrigger(str(n), str(t)) for n, t in _fetch(conn, "triggers", schema)]
    for obj, message in notes:
        cat.notes.setdefault(obj, []).append(message)
    cat.documented = {d.replacement.object: d for d in documented}
    return cat


def check(
    conn: psycopg.Connection,
    lite: sqlite3.Connection,
    schema: str,
    *,
    plans: dict[str, TablePlan],
    mapping: Mapping,
    src: insp.Schema,
    cat: Catalog,
) -> list[SchemaCheck]:
    out: list[SchemaCheck] = []
    for name, plan in plans.items():
        if plan.target not in cat.relations:
            out.append(
                SchemaCheck(
                    kind="table",
                    object=plan.target,
                    status=Status.MISMATCH,
                    detail="missing in the target",
                )
            )
            continue
        out.append(SchemaCheck(kind="table", object=plan.target, status=Status.OK))
        out.extend(_columns(plan, mapping, cat))
        out.extend(_primary_key(plan, mapping, cat))
        out.extend(_indexes(plan, src.table(name), cat, mapping))
    out.extend(_foreign_keys(schema, plans, mapping, src, cat))
    out.extend(_views(src, cat, mapping))
    out.extend(_triggers(plans, src, cat, mapping))
    out.extend(_sequences(conn, lite, schema, plans))
    return out


def _columns(plan: TablePlan, mapping: Mapping, cat: Catalog) -> list[SchemaCheck]:
    have = cat.columns.get(plan.target, {})
    bad: list[SchemaCheck] = []
    for col in plan.columns:
        wanted = mapping.tables[plan.table.name].columns[col.source].type
        obj = f"{plan.target}.{col.target}"
        if col.target not in have:
            bad.append(
                SchemaCheck(
                    kind="column",
                    object=obj,
                    status=Status.MISMATCH,
                    detail="missing in the target",
                )
            )
        elif normalise_type(have[col.target]) != normalise_type(wanted):
            bad.append(
                SchemaCheck(
                    kind="column",
                    object=obj,
                    status=Status.MISMATCH,
                    detail=f"type {have[col.target]}, the mapping says {wanted}",
                )
            )
    if bad:
        return bad
    return [
        SchemaCheck(
            kind="column",
            object=f"{plan.target}.*",
            status=Status.OK,
            detail=f"{len(plan.columns)} column(s) with their mapped types",
        )
    ]


def _target_col(plan: TablePlan, source: str | None) -> str | None:
    return next((c.target for c in plan.columns if c.source == source), source)


def _primary_key(plan: TablePlan, mapping: Mapping, cat: Catalog) -> list[SchemaCheck]:
    wanted = [_target_col(plan, c) for c in mapping.tables[plan.table.name].primary_key]
    if not wanted and mapping.tables[plan.table.name].null_key is NullKey.UNIQUE:
        return _unique_key(plan, cat)
    if not wanted:
        return []
    found = [c.columns for c in cat.constraints if c.table == plan.target and c.kind == "p"]
    obj = f"{plan.target} ({', '.join(str(w) for w in wanted)})"
    if found and found[0] == wanted:
        return [SchemaCheck(kind="primary key", object=obj, status=Status.OK)]
    detail = f"the target has ({', '.join(found[0])})" if found else "missing in the target"
    return [SchemaCheck(kind="primary key", object=obj, status=Status.MISMATCH, detail=detail)]


def _unique_key(plan: TablePlan, cat: Catalog) -> list[SchemaCheck]:
    """``null_key: unique``: the source's key as a UNIQUE index (NULLs distinct)."""
    cols = [_target_col(plan, c) for c in plan.table.primary_key]
    if not cols:
        return []
    obj = f"{plan.target} ({', '.join(str(c) for c in cols)})"
    name = ddl.unique_key_name(plan.target)
    found = [i for i in cat.indexes if i.name == name and i.table == plan.target]
    if found and found[0].unique and found[0].columns == cols:
        return [
            SchemaCheck(
                kind="primary key",
                object=obj,
                status=Status.DOCUMENTED,
                detail="null_key: unique: the key holds NULLs; a UNIQUE index stands for it",
            )
        ]
    return [
        SchemaCheck(
            kind="primary key",
            object=obj,
            status=Status.MISMATCH,
            detail=f"null_key: unique: the unique index {name} is missing",
        )
    ]


def _indexes(
    plan: TablePlan, table: insp.Table, cat: Catalog, mapping: Mapping
) -> list[SchemaCheck]:
    mine = {i.name: i for i in cat.indexes if i.table == plan.target}
    return [
        _index(
            index, [_target_col(plan, c) if c else None for c in index.columns], mine, cat, mapping
        )
        for index in table.indexes
        if index.origin != "pk"
    ]


def _index(
    index: insp.Index,
    cols: list[str | None],
    mine: dict[str, PgIndex],
    cat: Catalog,
    mapping: Mapping,
) -> SchemaCheck:
    why = cat.replacement(mapping, index.name)
    if why is not None and why.replacement.kind is Replaced.GIN_INDEX:
        found = mine.get(why.replacement.replacement or index.name)
        ok = found is not None and found.method == "gin"
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.DOCUMENTED if ok else Status.MISMATCH,
            detail=why.message if ok else "documented GIN replacement is missing",
        )
    if why is not None:
        return _absent("index", index.name, [index.name], cat, mapping)
    if index.name in mine:
        found = mine[index.name]
        same = found.unique == index.unique and (index.has_expressions or found.columns == cols)
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.OK if same else Status.MISMATCH,
            detail="" if same else f"the target's index is on {found.columns}",
        )
    if index.name.startswith("sqlite_autoindex") and any(
        i.unique == index.unique and i.columns == cols for i in mine.values()
    ):
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.OK,
            detail=f"unique on ({', '.join(str(c) for c in cols)})",
        )
    check = _absent("index", index.name, [index.name], cat, mapping)
    check.detail += f" (on {', '.join(str(c) for c in cols)})"
    return check


def _foreign_keys(
    schema: str, plans: dict[str, TablePlan], mapping: Mapping, src: insp.Schema, cat: Catalog
) -> list[SchemaCheck]:
    out = []
    fks = {c.name: c for c in cat.constraints if c.kind == "f"}
    for fk in ddl.foreign_keys(schema, plans, mapping, src):
        cname = fk.name
        obj = f"{cname} ({fk.child} -> {fk.parent})"
        if cname not in fks:
            out.append(_absent("foreign key", obj, [cname], cat, mapping))
        elif fks[cname].valid:
            out.append(SchemaCheck(kind="foreign key", object=obj, status=Status.OK))
        elif cname in cat.orphans:
            out.append(
                SchemaCheck(
                    kind="foreign key",
                    object=obj,
                    status=Status.DOCUMENTED,
                    detail=f"NOT VALID: {cat.orphans[cname]} orphan row(s)"
                    " listed in vendzz_migrate.orphans",
                )
            )
        else:
            out.append(
                SchemaCheck(
                    kind="foreign key",
                    object=obj,
                    status=Status.MISMATCH,
                    detail="NOT VALID without recorded orphans",
                )
            )
    return out


def _views(src: insp.Schema, cat: Catalog, mapping: Mapping) -> list[SchemaCheck]:
    out = []
    for view in src.views:
        if cat.relations.get(view.name) in ("v", "m"):
            out.append(SchemaCheck(kind="view", object=view.name, status=Status.OK))
        else:
            out.append(_absent("view", view.name, [view.name, f"view {view.name}"], cat, mapping))
    return out


def _triggers(
    plans: dict[str, TablePlan], src: insp.Schema, cat: Catalog, mapping: Mapping
) -> list[SchemaCheck]:
    """Each SQLite trigger of a migrated table: a trigger of the same name on its target
    table, or documented as left to translate by hand (the copy never translates one), or a
    difference: never silent."""
    have = {(t.name, t.table) for t in cat.triggers}
    out = []
    for trigger in src.triggers:
        plan = plans.get(trigger.table)
        if plan is None:
            continue  # its table was not migrated (skipped, with a note)
        obj = f"{trigger.name} (on {plan.target})"
        if (trigger.name, plan.target) in have:
            out.append(SchemaCheck(kind="trigger", object=obj, status=Status.OK))
        else:
            out.append(_absent("trigger", obj, [trigger.name], cat, mapping))
    return out


def _sequences(
    conn: psycopg.Connection, lite: sqlite3.Connection, schema: str, plans: dict[str, TablePlan]
) -> list[SchemaCheck]:
    seqs = _sqlite_sequences(lite)
    by_target = {p.target: name for name, p in plans.items()}
    out = []
    for table, column, seq in _fetch(conn, "sequences", schema):
        if table not in by_target:
            continue
        top = conn.execute(
            f"SELECT max({ident(column)}) FROM {qualified(schema, table)}".encode()
        ).fetchone()
        last, called = conn.execute(
            f"SELECT last_value, is_called FROM {seq}".encode()
        ).fetchone() or (1, False)
        following = int(last) + 1 if called else int(last)
        floor = max(int(top[0]) if top and top[0] is not None else 0, seqs.get(by_target[table], 0))
        obj = f"{table}.{column}"
        ok = following > floor
        out.append(
            SchemaCheck(
                kind="sequence",
                object=obj,
                status=Status.OK if ok else Status.MISMATCH,
                detail=f"next value {following}, max(id) {floor}",
            )
        )
    return out


def _sqlite_sequences(lite: sqlite3.Connection) -> dict[str, int]:
    try:
        rows = lite.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.Error:
        return {}
    return {(n.decode() if isinstance(n, bytes) else str(n)): int(s) for n, s in rows}
