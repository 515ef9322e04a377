"""Steps 5-7 of sqlite-to-pg and the checks around a run's target objects.

Every statement runs in its own transaction; one that PostgreSQL refuses becomes a note in the
report (and in ``vendzz_migrate.notes``) instead of stopping the run, because the data is
already safely in. Each step is idempotent, so a resumed run can repeat it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from vendzz_migrate import events
from vendzz_migrate.copy import ddl, views
from vendzz_migrate.errors import StateError
from vendzz_migrate.pg import LOAD_SESSION, TIMEOUT_S, connect, ident, qualified
from vendzz_migrate.report.copy import Orphans
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import snapshot
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.records import Replaced, Replacement
from vendzz_migrate.state.store import Store
from vendzz_migrate.typemap.mapping import Mapping

if TYPE_CHECKING:
    import psycopg

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Step:
    """What a post-load step works on."""

    conn: psycopg.Connection
    store: Store
    run_id: str
    schema: str
    plans: dict[str, TablePlan]
    mapping: Mapping | None
    src: insp.Schema
    snapshot_path: Path
    data_only: bool
    url: str = ""
    workers: int = 1
    on_event: events.Sink = events.discard
    timeout_s: int = TIMEOUT_S  # connect_timeout_s of the connections the step opens


def refuse_existing(conn: psycopg.Connection, schema: str, plans: dict[str, TablePlan]) -> None:
    names = [p.target for p in plans.values()]
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r','p','v','m')",
        (schema, names),
    ).fetchall()
    if rows:
        found = ", ".join(sorted(str(r[0]) for r in rows)[:5])
        raise StateError(
            f"the target schema {schema!r} already holds {len(rows)} of the tables ({found}); "
            "use --data-only to load into them, or another --schema"
        )


def drop_previous(
    conn: psycopg.Connection, store: Store, schema: str, on_event: events.Sink = events.discard
) -> None:
    """--restart: drop what earlier runs created (only that), remove the rows earlier
    --data-only runs loaded, and forget their state; all or nothing."""
    with conn.transaction():
        unload_previous(conn, store, schema, on_event)
        for kind, name in sorted(store.objects(schema), key=lambda o: o.kind != "view"):
            what = "VIEW" if kind == "view" else "TABLE"
            conn.execute(f"DROP {what} IF EXISTS {qualified(schema, name)} CASCADE".encode())
        store.forget_runs(schema)


def unload_previous(
    conn: psycopg.Connection, store: Store, schema: str, on_event: events.Sink = events.discard
) -> None:
    """Remove the rows that earlier --data-only runs loaded into the application's tables,
    so that the reload neither doubles a table without a key nor meets its own rows as
    duplicates. A table holding exactly the rows the runs committed holds only theirs and is
    emptied; one holding other rows too is refused (nothing is removed) with what to do."""
    loaded = store.loaded_rows(schema)
    present: dict[str, int] = {}
    for table, count in sorted(loaded.items()):
        found = conn.execute("SELECT to_regclass(%s)", (qualified(schema, table),)).fetchone()
        if not found or found[0] is None:
            continue
        (now,) = conn.execute(
            f"SELECT count(*) FROM {qualified(schema, table)}".encode()
        ).fetchone() or (0,)
        if now and now != count:
            raise StateError(
                f"--restart: {schema}.{table} holds {now} row(s) but the earlier --data-only "
                f"run loaded {count}: rows of another origin are there, so the run's cannot be "
                "told apart; empty the tables yourself (TRUNCATE) and rerun with --restart"
            )
        if now:
            present[table] = int(now)
    if present:
        _empty(conn, schema, sorted(present))
        events.note(
            on_event,
            f"--restart: removed the {sum(present.values()):,} row(s) the earlier "
            f"--data-only run loaded into {len(present)} table(s)",
        )


def _empty(conn: psycopg.Connection, schema: str, tables: list[str]) -> None:
    """TRUNCATE the tables at once (foreign keys among them allowed); when another table
    references one of them, DELETE them in passes, children before parents."""
    import psycopg

    try:
        with conn.transaction():
            conn.execute(("TRUNCATE " + ", ".join(qualified(schema, t) for t in tables)).encode())
        return
    except psycopg.errors.FeatureNotSupported:
        pass
    todo = list(tables)
    while todo:
        left = []
        for table in todo:
            try:
                with conn.transaction():
                    conn.execute(f"DELETE FROM {qualified(schema, table)}".encode())
            except psycopg.errors.ForeignKeyViolation:
                left.append(table)
        if len(left) == len(todo):
            raise StateError(
                f"--restart: rows of {', '.join(left)} are referenced by rows of "
                "other tables; empty them yourself and rerun with --restart"
            )
        todo = left


def _attempt(step: Step, conn: psycopg.Connection, sql: str, obj: str, fix: str = "") -> bool:
    import psycopg

    try:
        with conn.transaction():
            conn.execute(sql.encode())
    except psycopg.errors.ProgramLimitExceeded as exc:  # "index row size ... exceeds btree"
        message = _first_line(exc)
        step.store.add_note(
            step.run_id,
            obj,
            f"skipped: values too long for a btree index ({message})",
            Replacement(Replaced.TOO_LONG, obj),
        )
        events.warning(step.on_event, f"{obj}: skipped: values too long for a btree index")
        return False
    except psycopg.Error as exc:
        _refused(step, obj, exc, fix)
        return False
    return True


def _refused(step: Step, obj: str, exc: BaseException, fix: str = "") -> None:
    message = _reason(exc)
    step.store.add_note(step.run_id, obj, f"not created: {message}{fix}")
    events.warning(step.on_event, f"{obj}: not created: {message}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or ["refused"])[0]


def _reason(exc: BaseException) -> str:
    """PostgreSQL's message with its DETAIL and HINT (why a key or a view was refused)."""
    import psycopg

    text = _first_line(exc)
    diag = exc.diag if isinstance(exc, psycopg.Error) else None
    for label, part in (
        ("DETAIL", diag and diag.message_detail),
        ("HINT", diag and diag.message_hint),
    ):
        if part:
            text += f" ({label}: {' '.join(str(part).split())})"
    return text


def keys_and_indexes(step: Step) -> None:
    if step.data_only:
        return
    conn, store, run_id, schema, plans, src = (
        step.conn,
        step.store,
        step.run_id,
        step.schema,
        step.plans,
        step.src,
    )
    assert step.mapping is not None
    mapping = step.mapping
    post = ddl.post_load(schema, plans, mapping, src)
    for obj, message in post.notes:
        store.add_note(run_id, obj, message, post.replaced.get(obj))
    statistics = [
        ddl.Statement(
            f"ANALYZE {qualified(schema, plan.target)}",
            f"{plan.target} statistics",
            table=plan.target,
        )
        for plan in plans.values()
    ]
    _build_concurrently(step, post.keys + post.indexes, statistics)
    for name, plan in plans.items():
        for check in src.table(name).checks:
            translated = ddl.transpile(f"SELECT 1 WHERE {check}", booleans=ddl.booleans(plan))
            if translated is None:
                store.add_note(run_id, name, f"CHECK ({check}) not translatable")
                continue
            cond = translated.split(" WHERE ", 1)[1]
            _attempt(
                step,
                conn,
                f"ALTER TABLE {qualified(schema, plan.target)} ADD CHECK ({cond})",
                f"{plan.target} CHECK",
            )
    for trigger in src.triggers:
        target = plans[trigger.table].target if trigger.table in plans else trigger.table
        store.add_note(
            run_id,
            trigger.name,
            f"trigger on {trigger.table} not migrated: "
            "PostgreSQL triggers need a function; translate it by hand",
            Replacement(Replaced.TRIGGER, trigger.name, target),
        )


class _Schedule:
    """Which statement may run next: a table's primary key first and alone (ALTER TABLE locks
    the table), then its indexes, several at once if need be (CREATE INDEX locks in SHARE
    mode: they do not wait for each other), then its final statement (ANALYZE); the largest
    tables first."""

    def __init__(
        self, statements: list[ddl.Statement], finals: list[ddl.Statement], rows: dict[str, int]
    ) -> None:
        self.groups: dict[str, list[ddl.Statement]] = {s.table: [] for s in finals}
        for stmt in statements:
            self.groups.setdefault(stmt.table, []).append(stmt)
        self.final = {stmt.table: stmt for stmt in finals}
        self.finals = {id(stmt) for stmt in finals}
        self.pending = {table: len(group) for table, group in self.groups.items()}
        self.rank = {t: i for i, t in enumerate(sorted(self.groups, key=lambda t: -rows.get(t, 0)))}
        self.ready: list[ddl.Statement] = []
        self.held: dict[str, list[ddl.Statement]] = {}
        self.left = len(statements) + len(finals)
        self.failure: BaseException | None = None
        self.cond = threading.Condition()
        for table, group in self.groups.items():
            if not group:
                self.ready.append(self.final.pop(table))
            elif " PRIMARY KEY " in group[0].sql:
                self.ready.append(group[0])
                self.held[table] = group[1:]
            else:
                self.ready.extend(group)

    def take(self) -> ddl.Statement | None:
        with self.cond:
            while not self.ready and self.left and self.failure is None:
                self.cond.wait()
            if self.failure is not None or not self.ready:
                return None
            stmt = min(self.ready, key=lambda s: self.rank[s.table])
            self.ready.remove(stmt)
            return stmt

    def done(self, stmt: ddl.Statement, failure: BaseException | None = None) -> None:
        with self.cond:
            self.left -= 1
            self.failure = self.failure or failure
            table = stmt.table
            if stmt in self.groups[table][:1]:
                self.ready.extend(self.held.pop(table, []))
            if id(stmt) not in self.finals:
                self.pending[table] -= 1
                if not self.pending[table] and table in self.final:
                    self.ready.append(self.final.pop(table))
            self.cond.notify_all()


def _build_concurrently(
    step: Step, statements: list[ddl.Statement], finals: list[ddl.Statement]
) -> None:
    """``statements`` and ``finals`` (see :class:`_Schedule`), ``step.workers`` at a time,
    one connection per thread."""
    schedule = _Schedule(statements, finals, _target_rows(step))

    def worker() -> None:
        with _connect(step, "index") as conn:
            while (stmt := schedule.take()) is not None:
                try:
                    if not _exists(conn, step.schema, stmt):
                        _attempt(step, conn, stmt.sql, stmt.object)
                except BaseException as exc:
                    schedule.done(stmt, exc)
                    raise
                schedule.done(stmt)

    workers = max(step.workers, 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
    if schedule.failure is not None:
        raise schedule.failure
    for future in futures:
        future.result()


def _target_rows(step: Step) -> dict[str, int]:
    """Source rows of each target table (to start the largest first)."""
    return {
        plan.target: totals.source_rows
        for name, totals in step.store.table_totals(step.run_id).items()
        if (plan := step.plans.get(name)) is not None
    }


def _concurrently(step: Step, statements: list[str]) -> None:
    """Independent statements, ``step.workers`` at a time, one connection per thread."""
    _on_workers(step, "analyze", lambda conn, sql: conn.execute(sql.encode()), statements)


def _connect(step: Step, role: str) -> psycopg.Connection:
    """An autocommit connection of the copy's step ``role`` (index, analyze, foreign-keys)."""
    return connect(
        step.url,
        command="sqlite-to-pg",
        role=role,
        autocommit=True,
        timeout_s=step.timeout_s,
        session=LOAD_SESSION,
    )


def _on_workers(
    step: Step, role: str, work: Callable[[psycopg.Connection, _T], _R], items: list[_T]
) -> list[_R]:
    """``work(conn, item)`` for every item, in order of submission, ``step.workers`` at a
    time, one autocommit connection per thread; the results in the order of ``items``."""
    local = threading.local()
    opened: list[psycopg.Connection] = []
    lock = threading.Lock()

    def run(item: _T) -> _R:
        if getattr(local, "conn", None) is None:
            local.conn = _connect(step, role)
            with lock:
                opened.append(local.conn)
        return work(local.conn, item)

    try:
        with ThreadPoolExecutor(max_workers=max(step.workers, 1)) as pool:
            return list(pool.map(run, items))
    finally:
        for conn in opened:
            conn.close()


def _exists(conn: psycopg.Connection, schema: str, stmt: ddl.Statement) -> bool:
    if " PRIMARY KEY " not in stmt.sql:
        return False  # CREATE INDEX IF NOT EXISTS is idempotent by itself
    name = stmt.sql.split("ADD CONSTRAINT ", 1)[1].split(" PRIMARY KEY", 1)[0].strip('"')
    row = conn.execute(
        "SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = %s AND c.conname = %s",
        (schema, name.replace('""', '"')),
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class _ForeignKey:
    """One foreign key of ``ddl.foreign_keys``; ``child`` and ``parent`` are target tables."""

    name: str
    child: str
    parent: str
    alter: str  # ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ..., without NOT VALID
    orphan_from: str  # FROM ... WHERE: the child rows whose key has no parent
    cols: list[str]
    table: str  # the child, schema-qualified


@dataclass(frozen=True)
class _Checked:
    """How the validation of a foreign key ended: valid, orphans found, or refused."""

    fk: _ForeignKey
    orphan_rows: int = 0
    sample: list[dict[str, object]] = field(default_factory=list)
    error: BaseException | None = None


def foreign_keys(step: Step) -> None:
    """Every foreign key is added NOT VALID (a catalog change, one after another: each locks
    its two tables), then validated in parallel, one scan each, never two of the same child
    at once. A key that orphans make fail stays NOT VALID with its orphans counted and sampled.
    A rerun skips the valid keys and the NOT VALID ones whose orphans are recorded."""
    if step.data_only:
        return
    assert step.mapping is not None
    fks = [
        _ForeignKey(*fk, table=qualified(step.schema, fk[1]))
        for fk in ddl.foreign_keys(step.schema, step.plans, step.mapping, step.src)
    ]
    for fk in fks:
        if step.mapping.drops(fk.name):
            step.store.add_note(step.run_id, fk.name, ddl.DROPPED)
    fks = [fk for fk in fks if not step.mapping.drops(fk.name)]
    pending = _add_not_valid(step, fks)
    rows = _target_rows(step)
    groups: dict[str, list[_ForeignKey]] = {}
    for fk in pending:
        groups.setdefault(fk.child, []).append(fk)
    ordered = sorted(groups.values(), key=lambda g: -rows.get(g[0].child, 0) * len(g))
    checked = [
        c for group in _on_workers(step, "foreign-keys", _validate_all, ordered) for c in group
    ]
    order = {fk.name: i for i, fk in enumerate(pending)}
    for result in sorted(checked, key=lambda c: order[c.fk.name]):
        _record(step, result)


def _add_not_valid(step: Step, fks: list[_ForeignKey]) -> list[_ForeignKey]:
    """Add the missing keys NOT VALID; the keys left to validate."""
    rows = step.conn.execute(
        "SELECT c.conname, c.convalidated FROM pg_constraint c"
        " JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE n.nspname = %s AND c.conname = ANY(%s)",
        (step.schema, [fk.name for fk in fks]),
    ).fetchall()
    validated = {str(name): bool(valid) for name, valid in rows}
    reported = {o.constraint for o in orphans(step.conn, step.store, step.run_id)}
    pending = []
    for fk in fks:
        if fk.name not in validated:
            if not _attempt(step, step.conn, f"{fk.alter} NOT VALID", fk.name):
                continue
            validated[fk.name] = True  # a later key of the same name is skipped, as before
        elif validated[fk.name] or fk.name in reported:
            continue
        pending.append(fk)
    return pending


def _validate_all(conn: psycopg.Connection, fks: list[_ForeignKey]) -> list[_Checked]:
    return [_validate(conn, fk) for fk in fks]  # one child: VALIDATE locks it against itself


def _validate(conn: psycopg.Connection, fk: _ForeignKey) -> _Checked:
    import psycopg

    try:
        conn.execute(f"ALTER TABLE {fk.table} VALIDATE CONSTRAINT {ident(fk.name)}".encode())
    except psycopg.errors.ForeignKeyViolation as exc:
        row = conn.execute(f"SELECT count(*) {fk.orphan_from}".encode()).fetchone()
        count = int(row[0]) if row else 0
        if not count:  # PostgreSQL's equality found what the query's did not
            return _Checked(fk, error=exc)
        cols = ", ".join("c." + ident(c) for c in fk.cols)
        sample = conn.execute(f"SELECT {cols} {fk.orphan_from} LIMIT 5".encode()).fetchall()
        return _Checked(fk, count, [dict(zip(fk.cols, r, strict=True)) for r in sample])
    except psycopg.Error as exc:
        if conn.broken:
            raise  # the connection is lost, not the key: a resumed run validates it
        return _Checked(fk, error=exc)
    return _Checked(fk)


def _record(step: Step, result: _Checked) -> None:
    import psycopg

    fk = result.fk
    if result.orphan_rows:
        step.store.add_orphans(
            step.run_id, fk.child, fk.name, fk.parent, result.orphan_rows, result.sample
        )
        events.warning(
            step.on_event,
            f"{fk.child}: {result.orphan_rows} orphan row(s) for {fk.name}: added NOT VALID",
        )
    elif result.error is not None:
        # refused for another reason than orphans: dropped, so that the key ends as when it
        # was added and validated at once (absent, with a note), never NOT VALID unexplained
        try:
            with step.conn.transaction():
                step.conn.execute(
                    f"ALTER TABLE {fk.table} DROP CONSTRAINT IF EXISTS {ident(fk.name)}".encode()
                )
        except psycopg.Error as exc:
            message = _reason(result.error)
            step.store.add_note(
                step.run_id, fk.name, f"left NOT VALID: {message} (not dropped: {_first_line(exc)})"
            )
            events.warning(step.on_event, f"{fk.name}: left NOT VALID: {message}")
            return
        _refused(step, fk.name, result.error)


def views_sequences_analyze(step: Step) -> None:
    for obj, message in step.src.skip_notes():
        step.store.add_note(step.run_id, obj, message)
    if step.mapping is not None:
        for name, tmap in step.mapping.tables.items():
            if tmap.skip:
                step.store.add_note(step.run_id, name, "skipped: skip: true in the mapping")
    if not step.data_only:
        for view in views.ordered(step.src.views):  # a view after the views it reads
            _view(step, view)
    _sequences(step)
    if step.data_only:  # otherwise each table was analysed once its indexes were built
        _concurrently(
            step, [f"ANALYZE {qualified(step.schema, p.target)}" for p in step.plans.values()]
        )


def _view(step: Step, view: insp.View) -> None:
    if step.mapping is not None and step.mapping.drops(view.name):
        step.store.add_note(step.run_id, view.name, ddl.DROPPED)
        return
    flat = " ".join(view.sql.split())
    try:
        sql = views.translate(step.schema, view, step.plans)
    except views.Untranslatable as exc:
        step.store.add_note(
            step.run_id,
            f"view {view.name}",
            f"not translatable: {exc}; recreate by hand from the SQLite SQL: {flat}",
        )
        events.warning(step.on_event, f"view {view.name}: not translatable: {exc}")
        return
    statement = f"SET LOCAL search_path TO {ident(step.schema)}; {sql}"
    if _attempt(
        step,
        step.conn,
        statement,
        f"view {view.name}",
        fix=f"; fix by hand and run: {sql}",
    ):
        step.store.add_object(step.run_id, "view", view.name)


def _sequences(step: Step) -> None:
    seqs = _sqlite_sequences(step.snapshot_path)
    for obj, value in set_sequences(step.conn, step.schema, step.plans, seqs):
        step.store.add_note(step.run_id, obj, f"sequence set past max(id): next value {value + 1}")


def set_sequences(
    conn: psycopg.Connection, schema: str, plans: dict[str, TablePlan], sqlite_seqs: dict[str, int]
) -> list[tuple[str, int]]:
    """Every serial/identity sequence of the plans' tables past max(column) and past SQLite's
    AUTOINCREMENT counter; returns (table.column, last value) of each (the cutover reuses it)."""
    done: list[tuple[str, int]] = []
    for name, plan in plans.items():
        for col in plan.columns:
            table = qualified(schema, plan.target)
            row = conn.execute(
                "SELECT pg_get_serial_sequence(%s, %s)", (table, col.target)
            ).fetchone()
            if not row or not row[0]:
                continue
            top = conn.execute(f"SELECT max({ident(col.target)}) FROM {table}".encode()).fetchone()
            value = max(int(top[0]) if top and top[0] is not None else 0, sqlite_seqs.get(name, 0))
            conn.execute("SELECT setval(%s, %s, %s)", (row[0], max(value, 1), value >= 1))
            done.append((f"{plan.target}.{col.target}", value))
    return done


def _sqlite_sequences(path: Path, lite: sqlite3.Connection | None = None) -> dict[str, int]:
    """SQLite's AUTOINCREMENT counters, from the snapshot (or from ``lite``, closed after)."""
    lite = lite or snapshot.open_snapshot(path)
    try:
        rows = lite.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        lite.close()
    return {(n.decode() if isinstance(n, bytes) else str(n)): int(s) for n, s in rows}


def orphans(conn: psycopg.Connection, store: Store, run_id: str) -> list[Orphans]:  # noqa: ARG001
    """The run's foreign keys left NOT VALID, for the report (``conn``: the store's)."""
    return [Orphans(**o._asdict()) for o in store.orphans(run_id)]
