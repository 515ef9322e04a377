"""verify: prove that PostgreSQL holds exactly what SQLite held, or show exactly where not.

    report = verify.run(VerifyOptions(source=Path("vendzz.db"), target_url=url))

returns a :class:`VerifyReport` when everything matches and raises
:class:`~vendzz_migrate.errors.MismatchError` (``.data["report"]``) when it does not.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from vendzz_migrate import console
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.errors import ConfigError, MismatchError
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.store import Run, Store
from vendzz_migrate.target import require_url
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.urls import mask
from vendzz_migrate.verify import compare, lite, pgside, schema_check
from vendzz_migrate.verify import spec as specs
from vendzz_migrate.verify.model import Mode, Status, TableResult, VerifyReport

if TYPE_CHECKING:
    import psycopg


class VerifyOptions(BaseModel):
    source: Path
    target_url: str | None
    schema_name: str = "public"
    state_schema: str = "vendzz_migrate"
    mapping_path: Path | None = None
    mode: Mode = "checksum"
    tables: list[str] | None = None
    show_values: bool = False
    strict: bool = False
    segment_rows: int = Field(default=10_000, ge=2)
    workers: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
                         ge=1, le=64, description="tables compared at once: threads, each with "
                         "its own SQLite reader (all on one instant) and PostgreSQL connection")


def run(opts: VerifyOptions) -> VerifyReport:
    """Compare the SQLite file with the target; raise MismatchError (with the report) unless
    everything matches (quarantined rows only fail with ``strict``)."""
    started = time.monotonic()
    url = require_url(opts.target_url)
    sources = lite.open_snapshot(opts.source, opts.workers)
    targets: list[psycopg.Connection] = []
    try:
        for _ in sources:
            targets.append(pgside.open_target(url))
        report = _verify(opts, url, sources, targets)
    finally:
        for target in targets:
            target.close()
        for source in sources:
            source.close()
    report.seconds = time.monotonic() - started
    if not report.ok:
        raise MismatchError(f"verify: {report.summary()}", report=report)
    return report


def _verify(opts: VerifyOptions, url: str, sources: list[sqlite3.Connection],
            targets: list[psycopg.Connection]) -> VerifyReport:
    source, target = sources[0], targets[0]
    schema = insp.introspect(source)
    store = Store(target, opts.state_schema)
    prior = store.active_run(opts.schema_name)
    mapping, origin = _mapping(opts, source, schema, prior)
    if tuple(mapping.skip_tables) != insp.DEFAULT_SKIP:  # the copy skipped these as well
        schema = insp.introspect(source, mapping.skip_tables)
    plans = _selected(planner.build(mapping, schema), opts.tables)
    report = VerifyReport(source=opts.source, target=mask(url), schema_name=opts.schema_name,
                          mode=opts.mode, strict=opts.strict, mapping_from=origin,
                          run_id=prior.run_id if prior else None)
    rejects = _rejects(store, prior)
    columns = {p.target: pgside.table_types(target, opts.schema_name, p.target)
               for p in plans.values()}
    ctxs = [compare.Ctx(s, t, opts.schema_name, opts.show_values, opts.segment_rows)
            for s, t in zip(sources, targets, strict=True)]
    report.tables = _tables(ctxs, opts, plans, mapping, columns, rejects)
    cat = schema_check.catalog(target, opts.schema_name, columns,
                               store.notes(prior.run_id) if prior else [],
                               _orphans(store, prior))
    report.schema_checks = schema_check.check(target, source, opts.schema_name, plans=plans,
                                              mapping=mapping, src=schema, cat=cat)
    report.add_totals()
    return report


def _tables(ctxs: list[compare.Ctx], opts: VerifyOptions, plans: dict[str, TablePlan],
            mapping: maps.Mapping, columns: dict[str, dict[str, str]],
            rejects: dict[str, frozenset[str]]) -> list[TableResult]:
    """Every table's result, in ``plans`` order; tables are compared ``len(ctxs)`` at a time,
    the largest first, each on a free context (reader + connection)."""
    names = list(plans)
    rows = {n: lite.count_rows(ctxs[0].lite, plans[n].table.name) for n in names}
    free: queue.SimpleQueue[compare.Ctx] = queue.SimpleQueue()
    for ctx in ctxs:
        free.put(ctx)

    def one(name: str) -> TableResult:
        plan = plans[name]
        ctx = free.get()
        try:
            console.debug(f"verify {name} ({opts.mode})")
            if not columns[plan.target]:
                return _absent(plan, rows[name])
            spec = specs.build(plan, columns[plan.target], mapping.tables[name].primary_key,
                               rejects.get(name, frozenset()))
            return compare.compare_table(ctx, spec, opts.mode)
        finally:
            free.put(ctx)

    if len(ctxs) == 1:
        return [one(n) for n in names]
    results: dict[str, TableResult] = {}
    with ThreadPoolExecutor(len(ctxs), thread_name_prefix="verify") as pool:
        futures = {pool.submit(one, n): n for n in sorted(names, key=lambda n: -rows[n])}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [results[n] for n in names]


def _mapping(opts: VerifyOptions, source: sqlite3.Connection, schema: insp.Schema,
             prior: Run | None) -> tuple[maps.Mapping, str]:
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
    rows = store.conn.execute(
        f"SELECT table_name, source_key FROM {store.q}.rejects WHERE run_id = %s",
        (prior.run_id,)).fetchall()
    found: dict[str, set[str]] = {}
    for table, key in rows:
        found.setdefault(str(table), set()).add(json.dumps(_loaded(key), sort_keys=True))
    return {t: frozenset(k) for t, k in found.items()}


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _orphans(store: Store, prior: Run | None) -> dict[str, int]:
    if prior is None:
        return {}
    rows = store.conn.execute(
        f"SELECT constraint_name, orphan_rows FROM {store.q}.orphans WHERE run_id = %s",
        (prior.run_id,)).fetchall()
    return {str(c): int(n) for c, n in rows}


def _absent(plan: TablePlan, rows: int) -> TableResult:
    return TableResult(table=plan.table.name, target=plan.target, status=Status.MISMATCH,
                       source_rows=rows, missing=rows, note="table missing in the target")
