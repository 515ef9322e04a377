"""verify: prove that PostgreSQL holds exactly what SQLite held, or show exactly where not.

    report = verify.run(VerifyOptions(source=Path("vendzz.db"), target_url=url))

returns a :class:`VerifyReport` when everything matches and raises
:class:`~vendzz_migrate.errors.MismatchFound` (``.report``) when it does not.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from vendzz_migrate import events
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.errors import ConfigError, MismatchFound, SourceError
from vendzz_migrate.options import CommandOptions
from vendzz_migrate.pg import require_url
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.store import Run, Store
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.urls import mask
from vendzz_migrate.verify import compare, large, lite, pgside, redact, schema_check, workers
from vendzz_migrate.verify import spec as specs
from vendzz_migrate.verify.model import Mode, Status, TableResult, VerifyReport

if TYPE_CHECKING:
    import psycopg


class VerifyOptions(CommandOptions):
    """verify's options (the shared ones: :class:`CommandOptions`)."""

    source: Path
    mapping_path: Path | None = None
    mode: Mode = "checksum"
    tables: list[str] | None = None
    show_values: bool = False
    strict: bool = False
    allow_empty: bool = False  # a source without any table is an error unless asked for
    segment_rows: int = Field(default=10_000, ge=2)
    workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
        ge=1,
        le=64,
        description="tables compared at once, each in a worker "
        "process with its own SQLite reader (all on one instant)",
    )
    parallel_min_rows: int = Field(
        default=100_000,
        ge=0,
        description="below this many source "
        "rows, tables are compared in this process (starting "
        "workers costs more than it saves)",
    )
    split_rows: int = Field(
        default=20_000,
        ge=1,
        description="with workers, a table of at "
        "least twice this many rows is cut into rowid ranges (checksum)",
    )


ATTEMPTS = 3  # tries to pin every reader on one instant before comparing in this process


def run(opts: VerifyOptions, on_event: events.Sink = events.discard) -> VerifyReport:
    """Compare the SQLite file with the target and return the report; raise
    :class:`MismatchFound` (carrying the report) unless everything matches (quarantined rows
    only fail with ``strict``). Debug lines go to ``on_event``."""
    started = time.monotonic()
    url = require_url(opts.target_url)
    target = pgside.open_target(url, opts.connect_timeout_s)
    large.use(url, opts.connect_timeout_s)  # large JSON values' canonical text (large._json)
    try:
        report = _attempts(opts, url, target, on_event)
    finally:
        large.use(None)
        target.close()
    report.seconds = time.monotonic() - started
    if not opts.show_values:
        redact.redact_keys(report)
    if not report.ok:
        raise MismatchFound(f"verify: {report.summary()}", report)
    return report


def _attempts(
    opts: VerifyOptions, url: str, target: psycopg.Connection, on_event: events.Sink
) -> VerifyReport:
    """Workers only when their readers provably share this process's instant (see
    :mod:`workers`); a file that keeps changing is compared in this process, by one reader."""
    watcher = open_readonly(opts.source)
    try:
        for attempt in range(ATTEMPTS):
            version = _data_version(watcher)
            source = lite.open_source(opts.source)
            pool = None
            try:
                rows = _rows(source)
                if (
                    opts.workers > 1
                    and attempt < ATTEMPTS - 1
                    and sum(rows.values()) >= opts.parallel_min_rows
                ):
                    pool = workers.Workers(
                        opts.source,
                        url,
                        count=opts.workers,
                        schema=opts.schema_name,
                        show_values=opts.show_values,
                        segment_rows=opts.segment_rows,
                        timeout_s=opts.connect_timeout_s,
                    )
                prepared = _prepare(opts, url, source, target, rows)
                prepared.on_event = on_event
                if pool is not None:
                    _cut(prepared, pool)
                    pool.wait_ready()
                    if _data_version(watcher) != version:
                        events.debug(
                            on_event,
                            "verify: the source changed while workers started; starting over",
                        )
                        continue
                report = _verify(prepared, pool)
                if pool is not None:
                    pool.close(wait=True)
                    pool = None
                return report
            finally:
                if pool is not None:
                    pool.close(wait=False)
                source.close()
    finally:
        watcher.close()
    raise AssertionError("unreachable: the last attempt runs without workers")


def _gather(units: list[Future[compare.SourceSums]]) -> compare.SourceSums:
    return compare.merge(workers.result(unit) for unit in units)


def _chain(units: list[Future[list[lite.Digest]]]) -> Iterator[lite.Digest]:
    for unit in units:
        yield from workers.result(unit)


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _rows(source: sqlite3.Connection) -> dict[str, int]:
    """Rows of every table of the file, counted once, on this reader's instant."""
    names = [
        n.decode() if isinstance(n, bytes) else n
        for (n,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {name: lite.count_rows(source, name) for name in names}


@dataclass
class _Prepared:
    opts: VerifyOptions
    source: sqlite3.Connection
    target: psycopg.Connection
    store: Store
    prior: Run | None
    mapping: maps.Mapping
    schema: insp.Schema
    plans: dict[str, TablePlan]
    columns: dict[str, dict[str, str]]
    report: VerifyReport
    specs: dict[str, specs.Spec] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # source rows per table
    # tables cut among workers: rowid ranges, and segment starts (checksum mode)
    cuts: dict[str, tuple[list[tuple[int, int]], list[lite.Bound] | None]] = field(
        default_factory=dict
    )
    # tables compared whole by a worker, submitted before the cuts are read
    whole: dict[str, Future[TableResult]] = field(default_factory=dict)
    on_event: events.Sink = events.discard


def _cut(p: _Prepared, pool: workers.Workers) -> None:
    """Which tables to cut into rowid ranges among the workers (a keyed rowid table of at
    least twice ``split_rows`` rows), and where. The other tables go to the workers first,
    whole, so that they work while this process reads the cuts (the segment starts of a
    large table take a walk of its key index)."""
    opts = p.opts
    parts = {name: min(4 * pool.count, p.rows[name] // opts.split_rows) for name in p.specs}
    cut = {
        name
        for name, spec in p.specs.items()
        if opts.mode != "counts" and parts[name] > 1 and lite.splittable(spec)
    }
    for name in sorted(p.specs, key=lambda n: -p.rows[n]):
        if name not in cut:
            p.whole[name] = pool.submit(p.specs[name], opts.mode)
    for name in sorted(cut, key=lambda n: -p.rows[n]):
        spec = p.specs[name]
        starts = lite.bounds(p.source, spec, opts.segment_rows) if opts.mode == "checksum" else None
        p.cuts[name] = (lite.rowid_ranges(p.source, spec, parts[name]), starts)


def _prepare(
    opts: VerifyOptions,
    url: str,
    source: sqlite3.Connection,
    target: psycopg.Connection,
    rows: dict[str, int],
) -> _Prepared:
    schema = insp.introspect(source)
    if not schema.tables and not opts.allow_empty:
        raise SourceError(
            f"{opts.source} holds no table to verify (an empty or zero-byte "
            "file?); pass --allow-empty if that is what you mean"
        )
    store = Store(target, opts.state_schema)
    prior = store.active_run(opts.schema_name)
    mapping, origin = _mapping(opts, source, schema, prior)
    if tuple(mapping.skip_tables) != insp.DEFAULT_SKIP:  # the copy skipped these as well
        schema = insp.introspect(source, mapping.skip_tables)
    plans = _selected(planner.build(mapping, schema), opts.tables)
    report = VerifyReport(
        source=opts.source,
        target=mask(url),
        schema_name=opts.schema_name,
        mode=opts.mode,
        strict=opts.strict,
        mapping_from=origin,
        run_id=prior.run_id if prior else None,
    )
    rejects = _rejects(store, prior)
    columns = {
        p.target: pgside.table_types(target, opts.schema_name, p.target) for p in plans.values()
    }
    prepared = _Prepared(
        opts, source, target, store, prior, mapping, schema, plans, columns, report
    )
    prepared.rows = {n: rows[p.table.name] for n, p in plans.items()}
    for name, plan in plans.items():
        if columns[plan.target]:
            prepared.specs[name] = specs.build(
                plan,
                columns[plan.target],
                mapping.tables[name].primary_key,
                rejects.get(name, frozenset()),
            )
    return prepared


def _verify(p: _Prepared, pool: workers.Workers | None) -> VerifyReport:
    """Every table's result. With workers: in checksum mode a large keyed table is cut into
    rowid ranges whose source sums the workers compute, the rest (server sums, comparison,
    bisection) happens here; other tables are compared whole by a worker."""
    report, opts = p.report, p.opts
    names, rows = list(p.plans), p.rows
    ctx = compare.Ctx(p.source, p.target, opts.schema_name, opts.show_values, opts.segment_rows)
    whole = p.whole
    split: dict[str, Future[TableResult]] = {}
    # ONE thread: this process's SQLite reader (and PostgreSQL connection) must never be used
    # by two threads at once (an sqlite3 connection is not safe for it: SystemError)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-split") as threads:
        # the schema checks first: they are short, and the workers start on the source now
        checks = threads.submit(_schema_checks, p) if pool is not None else None
        for name in sorted(p.cuts, key=lambda n: -rows[n]):  # none without workers
            assert pool is not None
            spec, (ranges, starts) = p.specs[name], p.cuts[name]
            # the server's side starts now, while the workers read the source
            if starts is not None:
                sums = [pool.sums(spec, starts, r) for r in ranges]
                split[name] = threads.submit(
                    compare.compare_table,
                    ctx,
                    spec,
                    opts.mode,
                    (starts, functools.partial(_gather, sums)),
                )
            else:
                digests = [pool.digests(spec, r) for r in ranges]
                split[name] = threads.submit(
                    compare.compare_table,
                    ctx,
                    spec,
                    opts.mode,
                    None,
                    functools.partial(_chain, digests),
                )
        if checks is None:
            _schema_checks(p)
        for name in names:
            plan = p.plans[name]
            if name not in p.specs:
                report.tables.append(_absent(plan, rows[name]))
            elif name in whole:
                report.tables.append(workers.result(whole[name]))
            elif name in split:
                report.tables.append(split[name].result())
            else:
                events.debug(p.on_event, f"verify {name} ({opts.mode})")
                report.tables.append(compare.compare_table(ctx, p.specs[name], opts.mode))
        if checks is not None:
            checks.result()
    report.add_totals()
    return report


def _schema_checks(p: _Prepared) -> None:
    cat = schema_check.catalog(
        p.target,
        p.opts.schema_name,
        p.columns,
        p.store.notes(p.prior.run_id) if p.prior else [],
        _orphans(p.store, p.prior),
        p.store.replacements(p.prior.run_id) if p.prior else [],
    )
    p.report.schema_checks = schema_check.check(
        p.target,
        p.source,
        p.opts.schema_name,
        plans=p.plans,
        mapping=p.mapping,
        src=p.schema,
        cat=cat,
    )


def _mapping(
    opts: VerifyOptions, source: sqlite3.Connection, schema: insp.Schema, prior: Run | None
) -> tuple[maps.Mapping, str]:
    if opts.mapping_path is not None:
        return maps.load(opts.mapping_path), str(opts.mapping_path)
    if prior is not None:
        return maps.parse(prior.mapping, "stored mapping"), f"run {prior.run_id}"
    return inferrer.infer(source, schema, source=str(opts.source)), "inferred"


def _selected(plans: dict[str, TablePlan], wanted: list[str] | None) -> dict[str, TablePlan]:
    if not wanted:
        return plans
    by_any = {n: n for n in plans} | {p.target: n for n, p in plans.items()}
    unknown = [w for w in wanted if w not in by_any]
    if unknown:
        raise ConfigError(f"--tables: no such migrated table: {', '.join(unknown)}")
    return {by_any[w]: plans[by_any[w]] for w in wanted}


def _rejects(store: Store, prior: Run | None) -> dict[str, frozenset[str]]:
    if prior is None:
        return {}
    found: dict[str, set[str]] = {}
    for table, key in store.rejected_keys(prior.run_id):
        found.setdefault(table, set()).add(json.dumps(key, sort_keys=True))
    return {t: frozenset(k) for t, k in found.items()}


def _orphans(store: Store, prior: Run | None) -> dict[str, int]:
    if prior is None:
        return {}
    return store.orphan_rows(prior.run_id)


def _absent(plan: TablePlan, rows: int) -> TableResult:
    return TableResult(
        table=plan.table.name,
        target=plan.target,
        status=Status.MISMATCH,
        source_rows=rows,
        missing=rows,
        note="table missing in the target",
    )
