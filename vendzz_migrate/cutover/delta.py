"""Delta sync: replay the captured changes since a high-water mark into PostgreSQL.

One SQLite read transaction fixes the instant: the mark ``hi`` and every changed key's current
row (or its absence) are read in it, so PostgreSQL ends up holding SQLite's state at ``hi`` for
those keys. Rows are converted exactly as the copy converts them (the same SQL fast path and
Python slow path, :mod:`vendzz_migrate.copy.unit`), and a value the mapping cannot hold goes to
the copy's quarantine (``vendzz_migrate.rejects``). In PostgreSQL, one transaction per sync:

1. stage each table's current rows (COPY into a temp table shaped like the target) and the
   converted changed keys;
2. foreign keys deferred for the transaction (see :func:`_defer_foreign_keys`);
3. delete the keys that are gone (or quarantined), children before parents, first, so that a
   unique value moving to another row (or a key change) finds its old row gone;
4. upsert the staged rows (``ON CONFLICT (primary key) DO UPDATE``), parents before children;
5. foreign keys checked (``SET CONSTRAINTS ALL IMMEDIATE``) and made immediate again;
6. record the new mark in ``{state}.cutover_marks``, so mark and data commit together.

Replaying a key twice is harmless (its current row is read again), which makes every sync
idempotent. The cost grows with the number of changed keys, not with the size of the file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel

from vendzz_migrate.copy import large
from vendzz_migrate.copy import unit as copyunit
from vendzz_migrate.cutover import capture
from vendzz_migrate.errors import ConfigError, SourceError
from vendzz_migrate.pg import ident, qualified
from vendzz_migrate.source import open_readonly, qi, reader, source_error
from vendzz_migrate.source.reader import KeyTuple, TablePlan
from vendzz_migrate.state.store import RejectRow, Store
from vendzz_migrate.typemap.convert import Reject
from vendzz_migrate.typemap.values import Raw

if TYPE_CHECKING:
    import psycopg

BATCH_KEYS = 500  # keys per SQLite VALUES list


class DeltaReport(BaseModel):
    after: int
    upto: int
    changes: int = 0  # captured changes in (after, upto]
    keys: int = 0  # distinct keys among them
    upserted: int = 0
    deleted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = {}  # keys per table

    @property
    def rows_per_second(self) -> float:
        return self.keys / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Target:
    """Where the delta goes: the copy run's plans and the target's keys."""

    conn: psycopg.Connection
    schema: str
    state_schema: str
    run_id: str
    plans: dict[str, TablePlan]
    pg_keys: dict[str, tuple[str, ...]]  # source table -> target primary key columns
    order: list[str] = field(default_factory=list)  # source tables, parents first


Line = bytes | list[large.Field]


@dataclass
class _Staged:
    plan: TablePlan
    whole: bool = False  # a table without a primary key: replaced whole
    # COPY lines; a row holding a value too large to build whole: its fields, written from
    # SQLite a piece at a time (copy.large) when the rows are copied, in the same read
    rows: list[Line] = field(default_factory=list)
    row_keys: list[KeyTuple] = field(default_factory=list)  # the reader's key of each row
    keys: list[bytes] = field(default_factory=list)
    rejects: list[tuple[KeyTuple, str | None, Raw | None, str]] = field(default_factory=list)


MARKS_SQL = """CREATE TABLE IF NOT EXISTS {state}.cutover_marks (
    cutover  text PRIMARY KEY,
    applied  bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now())"""


def ensure_marks(conn: psycopg.Connection, state_schema: str) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(state_schema)}".encode())
    conn.execute(MARKS_SQL.format(state=ident(state_schema)).encode())


def applied_mark(conn: psycopg.Connection, state_schema: str, cutover: str) -> int | None:
    row = conn.execute(
        f"SELECT applied FROM {ident(state_schema)}.cutover_marks WHERE cutover = %s".encode(),
        (cutover,),
    ).fetchone()
    return None if row is None else int(row[0])


def set_mark(conn: psycopg.Connection, state_schema: str, cutover: str, mark: int) -> None:
    conn.execute(
        f"INSERT INTO {ident(state_schema)}.cutover_marks (cutover, applied) VALUES (%s, %s)"
        f" ON CONFLICT (cutover) DO UPDATE SET applied = excluded.applied,"
        f" updated_at = now()".encode(),
        (cutover, mark),
    )


def open_source(source: Path) -> sqlite3.Connection:
    """A reader of the live file (bytes for text, like the copy's snapshot readers), bound
    like them: a value too large to build whole is streamed (copy.large)."""
    conn = open_readonly(source)
    conn.text_factory = bytes
    return large.bound(conn)


def sync(
    source: Path, target: Target, cutover: str, after: int, batch_keys: int = BATCH_KEYS
) -> DeltaReport:
    """Apply the changes captured after ``after``; returns what was done (``upto`` is the new
    mark). Raises SourceError / TargetError; nothing is committed on error."""
    started = time.monotonic()
    lite = open_source(source)
    try:
        lite.execute("BEGIN")
        upto = capture.high_water(lite)
        report = DeltaReport(after=after, upto=upto)
        changed: dict[str, list[str]] = {}
        if upto > after:
            report.changes = int(
                lite.execute(
                    f"SELECT count(*) FROM {capture.LOG} WHERE seq > ? AND seq <= ?", (after, upto)
                ).fetchone()[0]
            )
            changed = capture.changed_keys(lite, after, upto)
        _apply(lite, target, changed, report, batch_keys, cutover)
    except sqlite3.Error as exc:
        raise source_error(source, exc) from None
    finally:
        lite.close()
    report.seconds = time.monotonic() - started
    return report


def _apply(
    lite: sqlite3.Connection,
    target: Target,
    changed: dict[str, list[str]],
    report: DeltaReport,
    batch_keys: int,
    cutover: str,
) -> None:
    unknown = [t for t in changed if t not in target.plans]
    if unknown:
        raise ConfigError(f"captured changes for table(s) not in the copy: {', '.join(unknown)}")
    staged: dict[str, _Staged] = {}
    for table in target.order:
        if table not in changed:
            continue
        st = staged[table] = _Staged(target.plans[table], whole=not target.pg_keys[table])
        keys = changed[table]
        report.keys += len(keys)
        report.tables[table] = len(keys)
        if st.whole:
            _stage_rows(lite, st, "1")
            continue
        for start in range(0, len(keys), batch_keys):
            _stage(lite, keys[start : start + batch_keys], st)
    import psycopg

    conn = target.conn
    try:
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = on")
            altered = (
                _defer_foreign_keys(conn, target, [st.plan.target for st in staged.values()])
                if staged
                else []
            )
            for i, table in enumerate(staged):
                _load_temp(conn, target, i, staged[table])
            for i, table in reversed(list(enumerate(staged))):
                report.deleted += _delete_gone(conn, target, i, staged[table])
            for i, table in enumerate(staged):
                report.upserted += _upsert(conn, target, i, staged[table])
            _restore_foreign_keys(conn, altered)
            # a rejected row is recorded whole, its values over pieces.LARGE_BYTES in pieces
            rejects = [
                copyunit._reject_row(lite, st.plan, r) for st in staged.values() for r in st.rejects
            ]
            report.rejected = len(rejects)
            _quarantine(conn, target, rejects)
            for i in range(len(staged)):
                conn.execute(f"DROP TABLE IF EXISTS vz_rows_{i}, vz_keys_{i}".encode())
            set_mark(conn, target.state_schema, cutover, report.upto)
    except psycopg.Error as exc:
        from vendzz_migrate.pg import classify

        raise classify(exc) from None


class DeferredKey(NamedTuple):
    """A foreign key made deferrable for one sync (``table``: schema-qualified, quoted)."""

    table: str
    name: str


def _defer_foreign_keys(
    conn: psycopg.Connection, target: Target, tables: list[str]
) -> list[DeferredKey]:
    """Make the target's immediate foreign keys deferred for this transaction only.

    Rows of one sync may depend on each other in any order (a parent's key changes and its
    children follow it; a parent goes while its children move away): only the final state is
    consistent, as it was in SQLite. ``ALTER CONSTRAINT ... DEFERRABLE`` is a catalog change,
    made and undone inside the sync's transaction (:func:`_restore_foreign_keys`), so nobody
    ever sees it."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, t.relname), c.conname FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " JOIN pg_class p ON p.oid = c.confrelid"
        " WHERE c.contype = 'f' AND NOT c.condeferrable AND n.nspname = %s"
        " AND (t.relname = ANY(%s) OR p.relname = ANY(%s))",  # only where rows move
        (target.schema, tables, tables),
    ).fetchall()
    altered = [DeferredKey(str(t), str(c)) for t, c in rows]
    for table, name in altered:
        conn.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {ident(name)} DEFERRABLE".encode())
    conn.execute("SET CONSTRAINTS ALL DEFERRED")
    return altered


def _restore_foreign_keys(conn: psycopg.Connection, altered: list[DeferredKey]) -> None:
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks every deferred row now
    for table, name in altered:
        conn.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {ident(name)} NOT DEFERRABLE".encode())


def _key_raws(lite: sqlite3.Connection, literals: list[str], width: int) -> list[KeyTuple]:
    """The typed values of key literals, evaluated by SQLite itself (in input order)."""
    cols = ", ".join(f"typeof(column{i + 1}), column{i + 1}" for i in range(width))
    values = ", ".join(f"({lit})" for lit in literals)
    out: list[KeyTuple] = []
    for row in lite.execute(f"SELECT {cols} FROM (VALUES {values})"):
        out.append(tuple(Raw(_s(row[2 * i]), row[2 * i + 1]) for i in range(width)))
    return out


def _s(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stage(lite: sqlite3.Connection, literals: list[str], st: _Staged) -> None:
    """Current rows of these keys as COPY lines (or rejects), and the keys in COPY form."""
    pk = st.plan.table.primary_key
    where = (
        f"({', '.join(qi(k) for k in pk)}) IN (VALUES {', '.join(f'({lit})' for lit in literals)})"
    )
    _stage_rows(lite, st, where)
    by_source = {c.source: c for c in st.plan.columns}
    for raws in _key_raws(lite, literals, len(pk)):
        try:
            fields = [
                copyunit.slow_field(st.plan, k, by_source[k].conversion, raw)[0]
                for k, raw in zip(pk, raws, strict=True)
            ]
        except Reject:
            continue  # a key PostgreSQL could never have held
        st.keys.append("\t".join(fields).encode())


def _stage_rows(lite: sqlite3.Connection, st: _Staged, where: str) -> None:
    """The rows matching ``where`` as COPY lines, converted as the copy converts them; rows
    holding a value too large to build whole as their fields (see :data:`Line`)."""
    plan = st.plan
    attempt = copyunit._Attempt()
    try:
        found: list[tuple[object, Line | large.Refused | None]] = list(
            reader.unit_rows(lite, plan, where, [])
        )
    except sqlite3.DataError as exc:
        if not large.too_big(exc):
            raise
        found = list(large.unit_rows(lite, plan, where, []))
    slow: list[KeyTuple] = []
    for key, line in found:
        if line is None:
            slow.append(reader.to_key(key))
        elif isinstance(line, large.Refused):
            attempt.rejects.append((reader.to_key(key), line.column, None, line.reason))
        else:
            st.rows.append(line)
            st.row_keys.append(reader.to_key(key))
    for key in slow:
        values = large.slow_row(lite, plan, key)
        if isinstance(values, large.LargeRow):  # a large value the fast query did not load
            if isinstance(values.fields, large.Refused):
                refused = values.fields
                attempt.rejects.append((key, refused.column, None, refused.reason))
            else:
                st.rows.append(values.fields)
                st.row_keys.append(key)
            continue
        text = copyunit._slow_line(plan, key, values, attempt)
        if text is not None:
            st.rows.append(text)
            st.row_keys.append(key)
    st.rejects.extend(attempt.rejects)


def _cols(plan: TablePlan) -> str:
    return ", ".join(ident(c.target) for c in plan.columns)


def _load_temp(conn: psycopg.Connection, target: Target, i: int, st: _Staged) -> None:
    dest = qualified(target.schema, st.plan.target)
    conn.execute(
        f"CREATE TEMP TABLE vz_rows_{i} (LIKE {dest} INCLUDING DEFAULTS INCLUDING"
        f" CONSTRAINTS) ON COMMIT DROP".encode()
    )
    _copy_rows(conn, f"vz_rows_{i}", st)
    if st.whole:
        return
    keys = ", ".join(ident(k) for k in target.pg_keys[st.plan.table.name])
    conn.execute(
        f"CREATE TEMP TABLE vz_keys_{i} ON COMMIT DROP AS SELECT {keys} FROM {dest}"
        f" WITH NO DATA".encode()
    )
    _copy_in(conn, f"vz_keys_{i}", keys, st.keys)


def _copy_in(conn: psycopg.Connection, table: str, cols: str, lines: Sequence[Line]) -> None:
    if not lines:
        return
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN".encode()) as copy:
        for chunk in _chunks(lines):
            if isinstance(chunk, bytes):
                copy.write(chunk)
            else:  # a large row: its fields, streamed
                large.write_row(copy.write, chunk)


def _copy_rows(conn: psycopg.Connection, table: str, st: _Staged) -> None:
    """COPY the staged rows; a value PostgreSQL refuses (type, range, CHECK) costs only its
    own row, which goes to the quarantine as in the copy (and is then deleted from the target,
    its key being among the changed ones)."""
    import psycopg

    try:
        with conn.transaction():
            _copy_in(conn, table, _cols(st.plan), st.rows)
        return
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError):
        pass
    kept: list[Line] = []
    for line, key in zip(st.rows, st.row_keys, strict=True):
        try:
            with conn.transaction():
                _copy_in(conn, table, _cols(st.plan), [line])
            kept.append(line)
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
            reason = (
                (getattr(exc.diag, "message_primary", None) or str(exc))
                .strip()
                .replace(f'"{table}"', f'"{st.plan.target}"')
            )
            st.rejects.append((key, None, None, f"PostgreSQL refused the value: {reason}"))
    st.rows = kept


def _chunks(lines: Sequence[Line]) -> Iterator[Line]:
    """The lines joined in batches of about FLUSH_BYTES; a large row's fields on their own."""
    buf: list[bytes] = []
    size = 0
    for line in lines:
        if not isinstance(line, bytes):
            if buf:
                yield b"\n".join(buf) + b"\n"
                buf, size = [], 0
            yield line
            continue
        buf.append(line)
        size += len(line) + 1
        if size >= copyunit.FLUSH_BYTES:
            yield b"\n".join(buf) + b"\n"
            buf, size = [], 0
    if buf:
        yield b"\n".join(buf) + b"\n"


def _match(pk: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in pk)


def _delete_gone(conn: psycopg.Connection, target: Target, i: int, st: _Staged) -> int:
    """Delete the changed keys that have no staged row (gone from SQLite, or quarantined)."""
    pk = target.pg_keys[st.plan.table.name]
    dest = qualified(target.schema, st.plan.target)
    if st.whole:
        return max(conn.execute(f"DELETE FROM {dest}".encode()).rowcount, 0)
    cur = conn.execute(
        f"DELETE FROM {dest} t USING vz_keys_{i} k WHERE {_match(pk, 't', 'k')}"
        f" AND NOT EXISTS (SELECT 1 FROM vz_rows_{i} r WHERE {_match(pk, 'r', 'k')})".encode()
    )
    return max(cur.rowcount, 0)


def _upsert(conn: psycopg.Connection, target: Target, i: int, st: _Staged) -> int:
    if not st.rows:
        return 0
    pk = target.pg_keys[st.plan.table.name]
    cols = _cols(st.plan)
    dest = qualified(target.schema, st.plan.target)
    if st.whole:
        return max(
            conn.execute(
                f"INSERT INTO {dest} ({cols}) SELECT {cols} FROM vz_rows_{i}".encode()
            ).rowcount,
            0,
        )
    rest = [c.target for c in st.plan.columns if c.target not in pk]
    action = (
        "DO UPDATE SET " + ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in rest)
        if rest
        else "DO NOTHING"
    )
    cur = conn.execute(
        f"INSERT INTO {qualified(target.schema, st.plan.target)} ({cols})"
        f" SELECT {cols} FROM vz_rows_{i} ON CONFLICT ({', '.join(ident(k) for k in pk)})"
        f" {action}".encode()
    )
    return max(cur.rowcount, 0)


def _quarantine(conn: psycopg.Connection, target: Target, rejects: list[RejectRow]) -> None:
    if rejects:
        Store(conn, target.state_schema).add_rejects(target.run_id, rejects)


def target_for(conn: psycopg.Connection, source: Path, schema: str, state_schema: str) -> Target:
    """The delta's target, from the copy run that filled ``schema``."""
    from vendzz_migrate.copy import plan as planner
    from vendzz_migrate.errors import StateError
    from vendzz_migrate.source import introspect as insp
    from vendzz_migrate.typemap import mapping as maps

    run = Store(conn, state_schema).active_run(schema)
    if run is None:
        raise StateError(f"no copy run for target schema {schema!r}: the delta needs the copy")
    mapping = maps.parse(run.mapping, "stored mapping")
    lite = open_source(source)
    try:
        plans = planner.build(mapping, insp.introspect(lite, mapping.skip_tables))
    finally:
        lite.close()
    pg_keys: dict[str, tuple[str, ...]] = {}
    for name, plan in plans.items():
        targets = {c.source: c.target for c in plan.columns}
        pk = mapping.tables[name].primary_key or list(plan.table.primary_key)
        if any(k not in targets for k in pk):
            raise ConfigError(
                f"table {name!r}: its primary key is not copied whole: its "
                "changes cannot be applied"
            )
        pg_keys[name] = tuple(targets[k] for k in pk)  # () keyless: copied whole on a change
    return Target(
        conn, schema, state_schema, run.run_id, plans, pg_keys, _parents_first(conn, schema, plans)
    )


def _parents_first(conn: psycopg.Connection, schema: str, plans: dict[str, TablePlan]) -> list[str]:
    by_target = {plan.target: name for name, plan in plans.items()}
    rows = conn.execute(
        "SELECT child.relname, parent.relname FROM pg_constraint c"
        " JOIN pg_class child ON child.oid = c.conrelid"
        " JOIN pg_class parent ON parent.oid = c.confrelid"
        " JOIN pg_namespace n ON n.oid = child.relnamespace"
        " WHERE c.contype = 'f' AND n.nspname = %s",
        (schema,),
    ).fetchall()
    needs: dict[str, set[str]] = {name: set() for name in plans}
    for child, parent in rows:
        if child in by_target and parent in by_target and child != parent:
            needs[by_target[child]].add(by_target[parent])
    order: list[str] = []
    while needs:
        ready = sorted(t for t, deps in needs.items() if not deps & needs.keys()) or sorted(needs)
        order.extend(ready)
        needs = {t: d for t, d in needs.items() if t not in ready}
    return order


def count_backlog(source: Path, after: int) -> int:
    lite = open_readonly(source)
    try:
        return capture.backlog(lite, after)
    except sqlite3.Error as exc:
        raise SourceError(f"{source}: reading the capture log: {exc}") from None
    finally:
        lite.close()


def set_sequences(source: Path, target: Target) -> list[tuple[str, int]]:
    """Identity/serial sequences past the new max ids (and SQLite's AUTOINCREMENT counters)."""
    from vendzz_migrate.copy import postload

    seqs = postload._sqlite_sequences(source, open_readonly(source))
    with target.conn.transaction():
        return postload.set_sequences(target.conn, target.schema, target.plans, seqs)
