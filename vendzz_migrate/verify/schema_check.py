"""Schema checks: every table and column with its mapped type, primary keys, each index (or
its documented replacement), foreign keys (valid, or NOT VALID with orphans), views and
sequences past max(id).

A source index, foreign key or view absent from PostgreSQL is a difference unless the mapping
drops it (``drop:``) or its replacement is one the README documents (a GIN index for a btree
over JSON, an index repeating a unique one, an index over text too long for a btree, a primary
key holding NULLs kept as a UNIQUE index): the copier's note says which. A note that only
says why PostgreSQL refused it does not excuse it."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from vendzz_migrate.copy import ddl
from vendzz_migrate.pg import classify, ident, qualified
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source.reader import TablePlan
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


@dataclass
class Catalog:
    relations: dict[str, str] = field(default_factory=dict)  # name -> relkind
    indexes: list[tuple[str, str, bool, str, list[str | None]]] = field(default_factory=list)
    constraints: list[tuple[str, str, str, bool, list[str], str | None]] = field(
        default_factory=list
    )
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)


# the notes of documented replacements (README: sqlite-to-pg steps 5-7) and of mapping drops
_DOCUMENTED = (
    ddl.DROPPED,
    "same columns as the primary key or a unique index",
    "values too long for a btree index",
    "GIN index",
    "full-text",
)


def documented(notes: list[str]) -> str | None:
    """The note that documents an absent object, if one does."""
    return next((n for n in notes if any(d in n for d in _DOCUMENTED)), None)


def _absent(
    kind: Literal["index", "foreign key", "view"], obj: str, notes: list[str]
) -> SchemaCheck:
    """An object missing in the target: documented, or a difference with PostgreSQL's reason."""
    why = documented(notes)
    if why is not None:
        return SchemaCheck(kind=kind, object=obj, status=Status.DOCUMENTED, detail=why)
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
    notes: list[tuple[str, str]],
    orphans: dict[str, int],
) -> Catalog:
    cat = Catalog(columns=columns, orphans=orphans)
    cat.relations = {str(n): str(k) for n, k in _fetch(conn, "relations", schema)}
    cat.indexes = [
        (str(i), str(t), bool(u), str(m), list(c))
        for i, t, u, m, c in _fetch(conn, "indexes", schema)
    ]
    cat.constraints = [
        (str(n), str(t), str(k), bool(v), list(c), r)
        for n, t, k, v, c, r in _fetch(conn, "constraints", schema)
    ]
    for obj, message in notes:
        cat.notes.setdefault(obj, []).append(message)
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
    found = [c for n, t, k, _v, c, _r in cat.constraints if t == plan.target and k == "p"]
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
    found = [i for i in cat.indexes if i[0] == name and i[1] == plan.target]
    if found and found[0][2] and found[0][4] == cols:
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


def _dropped(mapping: Mapping, name: str, notes: list[str]) -> list[str]:
    """The object's notes, with the mapping's drop (also for a copy made without it)."""
    return [ddl.DROPPED, *notes] if mapping.drops(name) else notes


def _indexes(
    plan: TablePlan, table: insp.Table, cat: Catalog, mapping: Mapping
) -> list[SchemaCheck]:
    out = []
    mine = [i for i in cat.indexes if i[1] == plan.target]
    for index in table.indexes:
        if index.origin == "pk":
            continue
        cols = [_target_col(plan, c) if c else None for c in index.columns]
        out.append(
            _index(index, cols, mine, _dropped(mapping, index.name, cat.notes.get(index.name, [])))
        )
    return out


def _index(
    index: insp.Index, cols: list[str | None], mine: list[Any], notes: list[str]
) -> SchemaCheck:
    by_name = {i[0]: i for i in mine}
    gin = [n for n in notes if "GIN index" in n]
    if gin:
        ok = by_name.get(index.name, ("", "", False, ""))[3] == "gin"
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.DOCUMENTED if ok else Status.MISMATCH,
            detail=gin[0] if ok else "documented GIN replacement is missing",
        )
    if notes and documented(notes):
        return _absent("index", index.name, notes)
    if index.name in by_name:
        found = by_name[index.name]
        same = found[2] == index.unique and (index.has_expressions or found[4] == cols)
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.OK if same else Status.MISMATCH,
            detail="" if same else f"the target's index is on {found[4]}",
        )
    if index.name.startswith("sqlite_autoindex") and any(
        i[2] == index.unique and i[4] == cols for i in mine
    ):
        return SchemaCheck(
            kind="index",
            object=index.name,
            status=Status.OK,
            detail=f"unique on ({', '.join(str(c) for c in cols)})",
        )
    check = _absent("index", index.name, notes)
    check.detail += f" (on {', '.join(str(c) for c in cols)})"
    return check


def _foreign_keys(
    schema: str, plans: dict[str, TablePlan], mapping: Mapping, src: insp.Schema, cat: Catalog
) -> list[SchemaCheck]:
    out = []
    fks = {n: (t, v) for n, t, k, v, _c, _r in cat.constraints if k == "f"}
    for cname, child, parent, _alter, _orphans, _cols in ddl.foreign_keys(
        schema, plans, mapping, src
    ):
        obj = f"{cname} ({child} -> {parent})"
        if cname not in fks:
            out.append(
                _absent("foreign key", obj, _dropped(mapping, cname, cat.notes.get(cname, [])))
            )
        elif fks[cname][1]:
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
        notes = _dropped(
            mapping,
            view.name,
            cat.notes.get(view.name, []) + cat.notes.get(f"view {view.name}", []),
        )
        if cat.relations.get(view.name) in ("v", "m"):
            out.append(SchemaCheck(kind="view", object=view.name, status=Status.OK))
        else:
            out.append(_absent("view", view.name, notes))
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
