"""sqlite-to-pg: the copy as a sequence of named, resumable steps.

  step 1/7 snapshot         consistent copy of the live file (backup API), kept while a
                            --resume may need it (removed when the run is done)
  step 2/7 mapping          introspection + the given or inferred mapping
  step 3/7 tables           CREATE TABLE (no keys yet) and the list of units, one transaction
  step 4/7 data             units copied with COPY, in parallel; each commits with its progress
  step 5/7 keys & indexes   primary keys, unique constraints, indexes (after the data: faster)
  step 6/7 foreign keys     validated, or NOT VALID with the orphans reported
  step 7/7 views, sequences, ANALYZE

State lives in the target's ``vendzz_migrate`` schema; see ``state/schema.sql``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import resource
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from vendzz_migrate import events
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.copy import postload, workers
from vendzz_migrate.copy.ddl import create_table, extensions
from vendzz_migrate.errors import RejectsFound, SourceError, StateError
from vendzz_migrate.options import CommandOptions
from vendzz_migrate.pg import LOAD_SESSION, classify, connect, ident, qualified, require_url
from vendzz_migrate.report.copy import CopyReport, Note, TableReport
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import reader, snapshot, source_error
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.store import Run, Store, Unit
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.urls import identity, mask

if TYPE_CHECKING:
    import psycopg

STEPS = (
    "snapshot",
    "mapping",
    "tables",
    "data",
    "keys & indexes",
    "foreign keys",
    "views, sequences, analyze",
)


class CopyOptions(CommandOptions):
    """sqlite-to-pg's options (the shared ones: :class:`CommandOptions`)."""

    source: Path
    mapping_path: Path | None = None
    data_only: bool = False
    workers: int = Field(default=2, ge=1, le=64)
    batch_rows: int = Field(default=20_000, ge=1)
    resume: bool = False
    restart: bool = False
    dry_run: bool = False
    allow_rejects: bool = False
    allow_empty: bool = False  # a source without any table is an error unless asked for
    keep_snapshot: bool = False  # keep the snapshot of a finished run (else removed)


@dataclass
class Context:
    opts: CopyOptions
    url: str
    admin: psycopg.Connection
    store: Store
    run_id: str = ""
    snapshot_path: Path = Path()
    schema: insp.Schema | None = None
    mapping: maps.Mapping | None = None
    plans: dict[str, TablePlan] = field(default_factory=dict)
    report: CopyReport | None = None
    snapshot_seconds: float = 0.0  # taken by this run (a resumed run reuses an earlier one's)
    on_event: events.Sink = events.discard


def run(opts: CopyOptions, on_event: events.Sink = events.discard) -> CopyReport:
    """Copy ``opts.source`` into PostgreSQL and return the report; raise
    :class:`RejectsFound` (carrying the report) when rows were rejected, unless
    ``allow_rejects``. Steps, notes, warnings and progress go to ``on_event``."""
    if opts.resume and opts.restart:
        raise StateError("--resume and --restart exclude each other")
    if opts.dry_run:
        from vendzz_migrate.copy.dryrun import dry_run

        return dry_run(opts)
    import psycopg

    started = time.monotonic()
    url = require_url(opts.target_url)
    snapshot.sweep(opts.work_dir / "snapshots")
    admin = connect(
        url,
        command="sqlite-to-pg",
        autocommit=True,
        timeout_s=opts.connect_timeout_s,
        session=LOAD_SESSION,
    )
    try:
        ctx = Context(opts, url, admin, Store(admin, opts.state_schema), on_event=on_event)
        with _exclusive(ctx):
            report = _run(ctx)
    except psycopg.Error as exc:  # e.g. PostgreSQL restarted: the run's own connection is gone
        raise classify(exc, url) from None
    except sqlite3.Error as exc:  # e.g. corrupt pages met while profiling
        raise source_error(opts.source, exc) from None
    finally:
        admin.close()
    report.seconds = time.monotonic() - started
    # the largest process of the run: this one, or a worker (children that have ended)
    report.peak_rss_mb = (
        max(
            resource.getrusage(who).ru_maxrss
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        / 1024
    )
    if report.total.rejected_rows and not opts.allow_rejects:
        raise RejectsFound(
            f"{report.total.rejected_rows} row(s) were rejected into "
            f"{opts.state_schema}.rejects (see the summary); rerun with --allow-rejects to "
            "accept",
            report,
        )
    return report


@contextmanager
def _exclusive(ctx: Context) -> Iterator[None]:
    key = int(
        hashlib.sha256(f"{ctx.opts.state_schema}/{ctx.opts.schema_name}".encode()).hexdigest()[:15],
        16,
    )
    row = ctx.admin.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not row or not row[0]:
        raise StateError(
            f"another vendzz-migrate run is working on schema "
            f"{ctx.opts.schema_name!r} of this database"
        )
    try:
        yield
    finally:
        _unlock(ctx.admin, key)


def _unlock(conn: psycopg.Connection, key: int) -> None:
    """Release the run's lock; on a connection that died (PostgreSQL restarted) the server
    released it already, and the error that matters is the one that ended the run."""
    import psycopg

    if conn.closed or conn.broken:
        return
    with contextlib.suppress(psycopg.Error):
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _run(ctx: Context) -> CopyReport:
    prior = ctx.store.active_run(ctx.opts.schema_name)
    if prior is not None and ctx.opts.restart:
        snapshots = ctx.store.snapshots(ctx.opts.schema_name)
        postload.drop_previous(ctx.admin, ctx.store, ctx.opts.schema_name, ctx.on_event)
        for path in snapshots:
            _remove_snapshot(Path(path))
        prior = None
    if prior is not None and prior.status == "running" and not ctx.opts.resume:
        raise StateError(
            f"an interrupted run ({prior.run_id}) exists for schema {ctx.opts.schema_name!r}: "
            "rerun with --resume to finish it, or --restart to start over"
        )
    if prior is not None and prior.status == "done" and not ctx.opts.resume:
        raise StateError(
            f"the target schema {ctx.opts.schema_name!r} already holds the tables of run "
            f"{prior.run_id}; use --restart to copy again, or --data-only into other tables"
        )
    if prior is None and ctx.opts.resume:
        raise StateError(
            f"nothing to resume: no run into schema {ctx.opts.schema_name!r} was recorded in "
            "this database (a run stopped during steps 1-3 records nothing and writes no row): "
            "run it again without --resume"
        )
    if prior is not None and prior.status == "done":
        raise StateError(
            f"nothing to resume: run {prior.run_id} finished; use --restart to copy again"
        )
    if prior is not None:
        _resume(ctx, prior)
    else:
        _fresh(ctx)
    report = _finish(ctx)
    if not ctx.opts.keep_snapshot:
        _remove_snapshot(ctx.snapshot_path)  # done: no resume will need it
    return report


def _fingerprint(ctx: Context, mapping_digest: str) -> str:
    data = {
        "source": str(ctx.opts.source.resolve()),
        "target": identity(ctx.url),
        "schema": ctx.opts.schema_name,
        "data_only": ctx.opts.data_only,
        "batch_rows": ctx.opts.batch_rows,
        "mapping": mapping_digest,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _fresh(ctx: Context) -> None:
    """Steps 1-3. Until step 3 commits, no state names the snapshot: it carries this
    process's id until then (see :func:`snapshot.sweep`), and a failure removes it."""
    slug = _slug(ctx.opts)
    ctx.snapshot_path = snapshot.pending_path(ctx.opts.work_dir / "snapshots", slug)
    try:
        _steps_1_to_3(ctx, ctx.opts.work_dir / "snapshots" / f"{slug}.db")
    except BaseException:
        _remove_snapshot(ctx.snapshot_path)
        raise


def _steps_1_to_3(ctx: Context, final: Path) -> None:
    opts = ctx.opts
    given_map = maps.load(opts.mapping_path) if opts.mapping_path else None
    # an inferred mapping profiles the live file while the snapshot of the same instant is
    # copied, when that instant can be pinned (see snapshot.Pinned); else the snapshot first
    pins = None if given_map else snapshot.pinned(opts.source, opts.workers + 1)
    if pins is not None:
        _snapshot_and_profile(ctx, pins)
    else:
        with events.step(ctx.on_event, 1, len(STEPS), STEPS[0]):
            _report_snapshot(ctx, snapshot.take(opts.source, ctx.snapshot_path))
        with events.step(ctx.on_event, 2, len(STEPS), STEPS[1]):
            lite = snapshot.open_snapshot(ctx.snapshot_path)
            try:
                skip = given_map.skip_tables if given_map else insp.DEFAULT_SKIP
                ctx.schema = insp.introspect(lite, skip)
                ctx.mapping = given_map or inferrer.infer(
                    lite,
                    ctx.schema,
                    source=str(opts.source),
                    workers=opts.workers,
                    opener=lambda: snapshot.open_snapshot(ctx.snapshot_path),
                )
            finally:
                lite.close()
    assert ctx.schema is not None
    if not ctx.schema.tables and not opts.allow_empty:
        raise SourceError(
            f"{opts.source} holds no table to copy (an empty or zero-byte "
            "file?); pass --allow-empty if that is what you mean"
        )
    given = given_map.digest() if given_map else "inferred"
    with events.step(ctx.on_event, 3, len(STEPS), STEPS[2]):
        os.replace(ctx.snapshot_path, final)  # now named by the state about to commit
        ctx.snapshot_path = final
        _create(ctx, _fingerprint(ctx, given))


def _snapshot_and_profile(ctx: Context, pins: snapshot.Pinned) -> None:
    """Steps 1 and 2 at once: the snapshot is copied in a thread (SQLite releases the
    interpreter lock) while the columns are profiled by readers pinned to its instant."""
    opts = ctx.opts
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot") as pool:
        with events.step(ctx.on_event, 1, len(STEPS), STEPS[0]):
            taken = pool.submit(snapshot.take, opts.source, ctx.snapshot_path, pins.backup)
            events.note(
                ctx.on_event, "  copying while step 2 profiles the columns at the same instant"
            )
        with events.step(ctx.on_event, 2, len(STEPS), STEPS[1]):
            lite = pins.take_reader()
            try:
                ctx.schema = insp.introspect(lite, insp.DEFAULT_SKIP)
                ctx.mapping = inferrer.infer(
                    lite,
                    ctx.schema,
                    source=str(opts.source),
                    workers=opts.workers,
                    opener=pins.take_reader,
                )
            finally:
                lite.close()
                pins.close()
                snap = taken.result()  # the snapshot's error first, if both failed
            _report_snapshot(ctx, snap)


def _report_snapshot(ctx: Context, snap: snapshot.Snapshot) -> None:
    ctx.snapshot_seconds = snap.seconds
    events.note(
        ctx.on_event,
        f"  snapshot: {snap.pages:,} pages ({snap.size_bytes / 1e6:,.1f} MB, journal "
        f"{snap.journal_mode}) in {snap.seconds:.2f}s",
    )


def _slug(opts: CopyOptions) -> str:
    return hashlib.sha256(
        f"{opts.source.resolve()}|{opts.schema_name}|{time.time_ns()}".encode()
    ).hexdigest()[:16]


def _create(ctx: Context, fingerprint: str) -> None:
    import psycopg

    assert ctx.mapping is not None and ctx.schema is not None
    try:
        with ctx.admin.transaction():
            ctx.store.ensure()
            if ctx.opts.data_only:
                ctx.plans, notes = planner.build_data_only(
                    ctx.admin, ctx.opts.schema_name, ctx.mapping, ctx.schema
                )
            else:
                ctx.plans, notes = planner.build(ctx.mapping, ctx.schema), []
                postload.refuse_existing(ctx.admin, ctx.opts.schema_name, ctx.plans)
            ctx.run_id = ctx.store.create_run(
                target_schema=ctx.opts.schema_name,
                fingerprint=fingerprint,
                source=str(ctx.opts.source.resolve()),
                snapshot=str(ctx.snapshot_path),
                options=ctx.opts.model_dump(mode="json", exclude={"target_url"}),
                mapping=ctx.mapping.model_dump(mode="json"),
            )
            for obj, message in notes:
                ctx.store.add_note(ctx.run_id, obj, message)
            if not ctx.opts.data_only:
                _create_tables(ctx)
            _plan_units(ctx)
            ctx.store.mark_step(ctx.run_id, "tables")
    except psycopg.Error as exc:
        raise classify(exc, ctx.url) from None


def _create_tables(ctx: Context) -> None:
    assert ctx.mapping is not None
    ctx.admin.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(ctx.opts.schema_name)}")
    for statement in extensions(ctx.mapping):
        ctx.admin.execute(statement.encode())
    for name, plan in ctx.plans.items():
        for col, cmap in ctx.mapping.tables[name].columns.items():
            if cmap.default is not None and not _default_ok(ctx.admin, cmap.default, cmap.type):
                ctx.store.add_note(
                    ctx.run_id,
                    f"{name}.{col}",
                    f"default {cmap.default!r} refused by PostgreSQL; left out",
                )
                cmap.default = None
        ctx.admin.execute(create_table(ctx.opts.schema_name, plan, ctx.mapping).encode())
        ctx.store.add_object(ctx.run_id, "table", plan.target)


def _default_ok(conn: psycopg.Connection, default: str, pg_type: str) -> bool:
    import psycopg

    try:
        with conn.transaction():
            conn.execute(f"SELECT ({default})::{pg_type}".encode())
    except psycopg.Error:
        return False
    return True


def _plan_units(ctx: Context) -> None:
    lite = snapshot.open_snapshot(ctx.snapshot_path)
    try:
        units: list[Unit] = []
        for name, plan in ctx.plans.items():
            bounds = reader.boundaries(lite, plan, ctx.opts.batch_rows)
            edges: list[reader.KeyTuple | None] = [None, *bounds, None]
            for seq in range(len(edges) - 1):
                lo, hi = edges[seq], edges[seq + 1]
                units.append(
                    Unit(
                        name,
                        seq,
                        reader.encode_key(lo) if lo else None,
                        reader.encode_key(hi) if hi else None,
                    )
                )
        ctx.store.add_units(ctx.run_id, units)
    finally:
        lite.close()


def _resume(ctx: Context, prior: Run) -> None:
    ctx.run_id, ctx.snapshot_path = prior.run_id, Path(prior.snapshot)
    ctx.mapping = maps.parse(prior.mapping, "stored mapping")
    given = maps.load(ctx.opts.mapping_path).digest() if ctx.opts.mapping_path else "inferred"
    if prior.fingerprint != _fingerprint(ctx, given):
        raise StateError(
            f"run {prior.run_id} was started with another source, target, mapping or options "
            f"({_differences(prior.options, ctx.opts)}); use --restart to start over"
        )
    events.note(ctx.on_event, f"resuming run {prior.run_id} from snapshot {ctx.snapshot_path}")
    lite = snapshot.open_snapshot(ctx.snapshot_path)
    try:
        ctx.schema = insp.introspect(lite, ctx.mapping.skip_tables)
    finally:
        lite.close()
    if ctx.opts.data_only:
        ctx.plans, _ = planner.build_data_only(
            ctx.admin, ctx.opts.schema_name, ctx.mapping, ctx.schema
        )
    else:
        ctx.plans = planner.build(ctx.mapping, ctx.schema)


def _differences(stored: dict[str, Any], opts: CopyOptions) -> str:
    now = opts.model_dump(mode="json", exclude={"target_url"})
    keys = ("source", "schema_name", "data_only", "batch_rows", "mapping_path")
    diff = [k for k in keys if stored.get(k) != now.get(k)]
    return "changed: " + (", ".join(diff) if diff else "target or mapping content")


def _finish(ctx: Context) -> CopyReport:
    n = len(STEPS)
    if not ctx.store.step_done(ctx.run_id, "data"):
        with events.step(ctx.on_event, 4, n, STEPS[3]):
            copy_data(ctx)
            ctx.store.mark_step(ctx.run_id, "data")
    for number, name, action in (
        (5, STEPS[4], postload.keys_and_indexes),
        (6, STEPS[5], postload.foreign_keys),
        (7, STEPS[6], postload.views_sequences_analyze),
    ):
        if ctx.store.step_done(ctx.run_id, name):
            continue
        with events.step(ctx.on_event, number, n, name):
            assert ctx.schema is not None
            action(
                postload.Step(
                    ctx.admin,
                    ctx.store,
                    ctx.run_id,
                    ctx.opts.schema_name,
                    ctx.plans,
                    ctx.mapping,
                    ctx.schema,
                    ctx.snapshot_path,
                    ctx.opts.data_only,
                    ctx.url,
                    ctx.opts.workers,
                    ctx.on_event,
                    timeout_s=ctx.opts.connect_timeout_s,
                )
            )
            ctx.store.mark_step(ctx.run_id, name)
    ctx.store.finish_run(ctx.run_id)
    return _report(ctx)


def _report(ctx: Context) -> CopyReport:
    report = CopyReport(
        run_id=ctx.run_id,
        source=str(ctx.opts.source),
        target=mask(ctx.url),
        schema_name=ctx.opts.schema_name,
        resumed=ctx.opts.resume,
        data_only=ctx.opts.data_only,
        snapshot_seconds=ctx.snapshot_seconds,
    )
    totals = ctx.store.table_totals(ctx.run_id)
    for name, plan in ctx.plans.items():
        src, copied, rejected, converted, seconds = totals.get(name, (0, 0, 0, 0, 0.0))
        report.tables.append(
            TableReport(
                table=name,
                target=plan.target,
                source_rows=src,
                copied_rows=copied,
                rejected_rows=rejected,
                converted_values=converted,
                seconds=seconds,
            )
        )
    report.add_totals()
    report.notes = [Note(object=o, message=m) for o, m in ctx.store.notes(ctx.run_id)]
    report.orphans = postload.orphans(ctx.admin, ctx.store, ctx.run_id)
    return report


# -- step 4: data ---------------------------------------------------------------------------


def copy_data(ctx: Context) -> None:
    """Every pending unit, in worker processes (see :mod:`workers`), or in this process with
    ``--workers 1``; with --data-only in waves, parents before children."""
    units = ctx.store.units(ctx.run_id, pending_only=True)
    units.sort(key=lambda u: (u.seq, u.table))  # spread big tables over the workers
    job = workers.Job(
        ctx.url,
        ctx.opts.state_schema,
        ctx.run_id,
        ctx.opts.source,
        ctx.snapshot_path,
        ctx.plans,
        {name: _copy_statement(ctx.opts.schema_name, plan) for name, plan in ctx.plans.items()},
        ctx.opts.data_only,
        ctx.opts.connect_timeout_s,
    )
    levels, chained = _levels(ctx)
    runner: workers.Pool | workers.Copier = (
        workers.Pool(job, ctx.opts.workers)
        if ctx.opts.workers > 1 and units
        else workers.Copier(job)
    )
    one = runner if isinstance(runner, workers.Copier) else workers.Copier(job)
    finished = False
    try:
        with events.progress(ctx.on_event) as progress:
            _progress_tables(ctx, progress)
            for level in levels:
                todo = [u for u in units if u.table in level]
                parallel = [u for u in todo if u.table not in chained]
                in_order = sorted(
                    (u for u in todo if u.table in chained), key=lambda u: (u.table, u.seq)
                )
                for unit, result in itertools.chain(runner.run(parallel), one.run(in_order)):
                    progress.advance(unit.table, result.source_rows)
            for name in ctx.plans:
                progress.finish(name)
        finished = True
    finally:
        runner.close(wait=finished)
        if one is not runner:
            one.close()


def _levels(ctx: Context) -> tuple[list[set[str]], set[str]]:
    """Source tables in waves, and the tables whose units go one after another in key order:
    with --data-only the target's foreign keys are enforced, so a table is loaded only after
    the tables it references (a cycle goes in the last wave), and a table referencing itself
    unit by unit (a row's parent, earlier in the file, is then committed before it; units in
    parallel would make that a race)."""
    if not ctx.opts.data_only:
        return [set(ctx.plans)], set()
    by_target = {plan.target: name for name, plan in ctx.plans.items()}
    rows = ctx.admin.execute(
        "SELECT child.relname, parent.relname FROM pg_constraint c"
        " JOIN pg_class child ON child.oid = c.conrelid"
        " JOIN pg_class parent ON parent.oid = c.confrelid"
        " JOIN pg_namespace n ON n.oid = child.relnamespace"
        " WHERE c.contype = 'f' AND n.nspname = %s",
        (ctx.opts.schema_name,),
    ).fetchall()
    needs: dict[str, set[str]] = {name: set() for name in ctx.plans}
    chained: set[str] = set()
    for child, parent in rows:
        if child in by_target and child == parent:
            chained.add(by_target[child])
        elif child in by_target and parent in by_target:
            needs[by_target[child]].add(by_target[parent])
    levels: list[set[str]] = []
    while needs:
        ready = {t for t, deps in needs.items() if not deps & needs.keys()}
        levels.append(ready or set(needs))
        needs = {t: d for t, d in needs.items() if t not in levels[-1]}
    return levels, chained


def _progress_tables(ctx: Context, progress: events.Progress) -> None:
    totals = ctx.store.table_totals(ctx.run_id)
    lite = snapshot.open_snapshot(ctx.snapshot_path)
    try:
        for name, plan in ctx.plans.items():
            where, params = reader.range_clause(plan.keys, None, None)
            progress.add(name, reader.count(lite, plan, where, params), totals.get(name, (0,))[0])
    finally:
        lite.close()


def _copy_statement(schema: str, plan: TablePlan) -> bytes:
    cols = ", ".join(ident(c.target) for c in plan.columns)
    return f"COPY {qualified(schema, plan.target)} ({cols}) FROM STDIN".encode()


def _remove_snapshot(path: Path) -> None:
    if path.name.endswith(".db"):
        for leftover in (
            path,
            path.with_name(path.name + ".partial"),
            path.with_name(path.name + ".partial-journal"),
        ):
            leftover.unlink(missing_ok=True)
