"""``cutover --rollback``: back to SQLite after the switch, carrying every PostgreSQL-era write.

Steps (each journaled as ``rollback:<step>`` started / done, so a rerun after a crash or a
``kill -9`` goes on from the first step not done; every step is idempotent):

0. ``catch-up``        the changed keys carried back (and verified) while the service still
                       writes on PostgreSQL, so the freeze only covers what changed since
1. ``freeze``          the service's freeze hook (writes answer 503 and are retried by clients)
2. ``drain``           no write begun before the freeze is still in flight: the plan's HTTP drain,
                       or a SHARE lock on every captured table (granted once every transaction
                       writing them has ended; released at once)
3. ``reverse-sync``    every key the PostgreSQL capture logged since the catch-up: its current row
                       (or its absence) written into SQLite with the reverse conversions
                       (:mod:`.reverse_sync`); rows SQLite cannot take stop the rollback HERE,
                       listed with their keys (exit 8), the service still frozen on PostgreSQL
4. ``reverse-verify``  every changed key means the same on both sides, row counts agree (exit 9)
5. ``switch-back``     the service's switch-to-SQLite hook
6. ``smoke``           the plan's smoke requests and the health check
7. ``unfreeze``        the unfreeze hook: the freeze window ends here
8. ``capture-off``     the capture is removed on both sides (PostgreSQL's log is kept)

Before the switch (no ``switch`` done in the journal), ``--rollback`` is the cutover's abort:
the service never left SQLite, so it is unfrozen if frozen, and both captures are removed.
``--finish`` (after the watch, to keep PostgreSQL) removes the capture on both sides.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vendzz_migrate import events
from vendzz_migrate.cutover import hooks, pg_capture
from vendzz_migrate.cutover.plan import CutoverPlan
from vendzz_migrate.errors import MismatchError, RejectsError, StateError
from vendzz_migrate.pg import DURABLE_SESSION, connect, qualified, require_url

if TYPE_CHECKING:
    import psycopg

    from vendzz_migrate.cutover.journal import Journal
    from vendzz_migrate.typemap.mapping import Mapping

STEPS = (
    "catch-up",
    "freeze",
    "drain",
    "reverse-sync",
    "reverse-verify",
    "switch-back",
    "smoke",
    "unfreeze",
    "capture-off",
)
CAPTURE_ON = "rollback:capture-on"
ASSUMED_ROWS_PER_SECOND = 2000.0  # for the plan document's estimate (bench_rollback measures it)
ASSUMED_HOOKS_SECONDS = 1.0


class RollbackSettings(BaseModel):
    """The plan's ``rollback:`` section."""

    model_config = ConfigDict(extra="forbid")
    batch_rows: int = Field(
        default=500, ge=1, le=10_000, description="keys per SQLite write transaction"
    )
    drain_lock_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long the drain waits for writes in flight on PostgreSQL",
    )


class UnfitItem(BaseModel):
    table: str
    key: dict[str, Any]
    column: str
    reason: str


class KeyDiffItem(BaseModel):
    table: str
    key: dict[str, Any]
    column: str | None
    sqlite: str | None
    postgres: str | None


class RollbackReport(BaseModel):
    cutover: str
    mode: Literal["rollback", "abort", "nothing"]
    dry_run: bool = False
    state_before: str
    steps_run: list[str] = Field(default_factory=list)
    since: int = 0
    high: int = 0
    changed_keys: dict[str, int] = Field(default_factory=dict)
    truncated: list[str] = Field(default_factory=list)
    written: dict[str, int] = Field(default_factory=dict)
    deleted: dict[str, int] = Field(default_factory=dict)
    unchanged: dict[str, int] = Field(default_factory=dict)
    unfit: list[UnfitItem] = Field(default_factory=list)
    verify_checked_keys: int = 0
    verify_diffs: list[KeyDiffItem] = Field(default_factory=list)
    row_counts: dict[str, tuple[int, int, int]] = Field(
        default_factory=dict, description="per table: SQLite rows, PostgreSQL rows, copy rejects"
    )
    sync_seconds: float | None = None
    final_sync_seconds: float | None = Field(default=None, description="the part under freeze")
    rows_per_second: float | None = None
    freeze_seconds: float | None = None
    expected_freeze_seconds: float | None = None

    def summary(self) -> str:
        keys = sum(self.changed_keys.values())
        if self.mode == "nothing":
            return f"rollback of {self.cutover}: nothing to do ({self.state_before})"
        if self.mode == "abort":
            return f"cutover {self.cutover} aborted before the switch: the service stays on SQLite"
        if self.dry_run:
            return (
                f"rollback of {self.cutover} would carry {keys} changed key(s) back into "
                f"SQLite ({', '.join(f'{t} {n}' for t, n in self.changed_keys.items())})"
                + (
                    f"; carried whole (truncated or keyless): {', '.join(self.truncated)}"
                    if self.truncated
                    else ""
                )
                + (
                    f"; expected freeze about {self.expected_freeze_seconds:.1f}s"
                    if self.expected_freeze_seconds is not None
                    else ""
                )
            )
        if self.unfit:
            return (
                f"rollback of {self.cutover} stopped before the switch back: "
                f"{len(self.unfit)} row(s) SQLite cannot take; the service is still frozen "
                f"on PostgreSQL"
            )
        freeze = f", freeze {self.freeze_seconds:.2f}s" if self.freeze_seconds is not None else ""
        return (
            f"rolled back {self.cutover}: {keys} changed key(s) carried into SQLite "
            f"({sum(self.written.values())} written, {sum(self.deleted.values())} deleted)"
            f", reverse verify clean{freeze}"
        )


class FinishReport(BaseModel):
    cutover: str
    pg_capture_removed: list[str] = Field(default_factory=list)
    sqlite_capture_objects: int = 0

    def summary(self) -> str:
        return (
            f"cutover {self.cutover} finished: PostgreSQL kept; capture removed from "
            f"{len(self.pg_capture_removed)} PostgreSQL table(s) and "
            f"{self.sqlite_capture_objects} SQLite object(s)"
        )


class UnfitRows(RejectsError):
    """Rows written on PostgreSQL that SQLite cannot take (exit 8, REJECTS)."""


def settings_of(plan: CutoverPlan) -> RollbackSettings:
    from pydantic import ValidationError

    from vendzz_migrate.errors import ConfigError

    try:
        return RollbackSettings.model_validate(plan.rollback)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"plan: rollback.{loc}: {first['msg']}") from None


def _connect(plan: CutoverPlan) -> psycopg.Connection[Any]:
    return connect(
        require_url(plan.target_url()),
        command="cutover",
        role="rollback",
        autocommit=True,
        session=DURABLE_SESSION,
    )


def _mapping(conn: psycopg.Connection[Any], plan: CutoverPlan) -> Mapping:
    from vendzz_migrate.state.store import Store
    from vendzz_migrate.typemap import mapping as maps

    run = Store(conn, plan.state_schema).active_run(plan.schema_name)
    if run is None:
        raise StateError(
            f"no copy run for schema {plan.schema_name!r} in "
            f"{plan.state_schema}.runs: nothing was cut over"
        )
    return maps.parse(run.mapping, "stored mapping")


def _rejects(conn: psycopg.Connection[Any], plan: CutoverPlan) -> dict[str, int]:
    from vendzz_migrate.state.store import Store

    store = Store(conn, plan.state_schema)
    run = store.active_run(plan.schema_name)
    if run is None:
        return {}
    return {table: t.rejected_rows for table, t in store.table_totals(run.run_id).items()}


# -- the seam the cutover calls -------------------------------------------------------------------


def on_switch(plan: CutoverPlan) -> None:
    """Install the PostgreSQL capture on every copied table; the cutover calls this after the
    switch and before the unfreeze, so no write on PostgreSQL escapes it."""
    from vendzz_migrate.cutover.journal import open_journal

    with _connect(plan) as conn:
        journal = open_journal(plan, conn)
        tables = _copied_keys(conn, plan)
        high = pg_capture.capture_all(
            conn, schema=plan.schema_name, state_schema=plan.state_schema, keys=tables
        )
        if not journal.done(CAPTURE_ON):  # a resumed cutover keeps the first mark
            journal.record(CAPTURE_ON, "done", {"since": high, "tables": len(tables)})


def _copied_keys(conn: psycopg.Connection[Any], plan: CutoverPlan) -> dict[str, tuple[str, ...]]:
    mapping = _mapping(conn, plan)
    keys = pg_capture.primary_keys(conn, plan.schema_name)
    wanted = {mapping.target_table(n) for n, t in mapping.tables.items() if not t.skip}
    return {t: keys.get(t, ()) for t in wanted}  # keyless: captured and carried whole


# -- rollback ------------------------------------------------------------------------------------


def rollback(
    plan: CutoverPlan, *, dry_run: bool = False, on_event: events.Sink = events.discard
) -> RollbackReport:
    """Roll the cutover back from wherever its journal stands (see the module docstring)."""
    from vendzz_migrate.cutover.journal import open_journal

    settings = settings_of(plan)
    with _connect(plan) as conn:
        journal = open_journal(plan, conn)
        state = journal.state()
        report = RollbackReport(
            cutover=plan.name, mode="rollback", dry_run=dry_run, state_before=state
        )
        if state in ("new", "rolled-back", "aborted") or journal.done("finish"):
            report.mode = "nothing"
            if journal.done("finish"):
                raise StateError(
                    f"cutover {plan.name} was finished (capture removed): the "
                    "PostgreSQL-era writes are no longer known; roll back by hand"
                )
            return report
        if not journal.done("switch"):
            report.mode = "abort"
            if not dry_run:
                _abort(plan, conn, report)
            return report
        if not journal.done(CAPTURE_ON):
            raise StateError(
                f"cutover {plan.name} switched without the PostgreSQL capture "
                f"({CAPTURE_ON} is not in the journal): the writes made on "
                "PostgreSQL cannot be carried back"
            )
        report.since = int(journal.figures(CAPTURE_ON).get("since", 0))
        if dry_run:
            return _dry_run(conn, plan, report)
        _Run(plan, settings, journal, conn, report, on_event).all()
        return report


def _dry_run(
    conn: psycopg.Connection[Any], plan: CutoverPlan, report: RollbackReport
) -> RollbackReport:
    changed = pg_capture.changed_keys(conn, report.since, state_schema=plan.state_schema)
    report.high = changed.high
    report.changed_keys = changed.counts()
    report.truncated = sorted(changed.truncated)
    report.expected_freeze_seconds = estimate_freeze(changed.total)
    return report


def estimate_freeze(keys: int, rows_per_second: float = ASSUMED_ROWS_PER_SECOND) -> float:
    """The expected freeze window of a rollback carrying ``keys`` changed keys."""
    return ASSUMED_HOOKS_SECONDS + keys / rows_per_second


def _abort(plan: CutoverPlan, conn: psycopg.Connection[Any], report: RollbackReport) -> None:
    """The cutover's own abort (the service never wrote to PostgreSQL), and the PostgreSQL
    capture removed if it was installed."""
    from vendzz_migrate.cutover import engine

    engine.abort(plan, reason="--rollback before the switch")
    removed = pg_capture.remove(
        conn, schema=plan.schema_name, state_schema=plan.state_schema, keep_log=True
    )
    report.steps_run += ["abort"] + (["capture-off"] if removed else [])


class _Run:
    """One rollback run over the journal: each step skipped when already done."""

    def __init__(
        self,
        plan: CutoverPlan,
        settings: RollbackSettings,
        journal: Journal,
        conn: psycopg.Connection[Any],
        report: RollbackReport,
        on_event: events.Sink,
    ) -> None:
        self.plan, self.settings, self.journal = plan, settings, journal
        self.conn, self.report, self.on_event = conn, report, on_event
        self._mapping: Mapping | None = None

    def mapping(self) -> Mapping:
        if self._mapping is None:
            self._mapping = _mapping(self.conn, self.plan)
        return self._mapping

    def all(self) -> None:
        for step in STEPS:
            name = f"rollback:{step}"
            if self.journal.done(name):
                continue
            number = STEPS.index(step) + 1
            message = f"rollback step {number}/{len(STEPS)}: {step}"
            events.emit(self.on_event, "step", message, number=number, total=len(STEPS), title=step)
            self.journal.record(name, "started")
            figures = getattr(self, "step_" + step.replace("-", "_"))()
            self.journal.record(name, "done", figures)
            self.report.steps_run.append(step)
        started = self.journal.figures("rollback:freeze").get("at")
        ended = self.journal.figures("rollback:unfreeze").get("at")
        if started is not None and ended is not None:
            self.report.freeze_seconds = float(ended) - float(started)
        self._fill_from_journal()
        self.journal.record(
            "rollback",
            "done",
            {
                "freeze_seconds": self.report.freeze_seconds,
                "changed_keys": sum(self.report.changed_keys.values()),
            },
        )

    def _fill_from_journal(self) -> None:
        """The report's sync figures: both phases (catch-up and final) from the journal."""
        report = self.report
        phases = [self.journal.figures(f"rollback:{s}") for s in ("catch-up", "reverse-sync")]
        for name in ("written", "deleted", "unchanged"):
            total: dict[str, int] = {}
            for phase in phases:
                for table, n in phase.get(name, {}).items():
                    total[table] = total.get(table, 0) + int(n)
            setattr(report, name, total)
        keys: dict[str, int] = {}
        for phase in phases:
            for table, n in phase.get("changed_keys", {}).items():
                keys[table] = keys.get(table, 0) + int(n)
        report.changed_keys = keys
        report.truncated = sorted({t for p in phases for t in p.get("truncated", [])})
        report.high = max([int(p.get("high", 0)) for p in phases] + [report.high])
        seconds = sum(float(p.get("seconds") or 0) for p in phases)
        rows = sum(
            sum(p.get(n, {}).values()) for p in phases for n in ("written", "deleted", "unchanged")
        )
        report.sync_seconds = seconds
        report.rows_per_second = rows / seconds if seconds > 0 else None
        report.final_sync_seconds = phases[1].get("seconds")

    # -- the steps (each returns its journal figures) ---------------------------------------------
    def step_freeze(self) -> dict[str, Any]:
        at = time.time()
        hooks.freeze(self.plan)
        return {"at": at}

    def step_drain(self) -> dict[str, Any]:
        if self.plan.hooks.drain.kind == "http":
            return {"seconds": hooks.drain(self.plan)}
        return {"seconds": self._drain_pg()}

    def _drain_pg(self) -> float:
        """A SHARE lock on every captured table conflicts with the ROW EXCLUSIVE lock every
        writing transaction holds: once granted, each write begun before it has ended."""
        import psycopg

        started = time.monotonic()
        tables = pg_capture.installed(self.conn, schema=self.plan.schema_name)
        if not tables:
            return 0.0
        names = ", ".join(qualified(self.plan.schema_name, t) for t in tables)
        try:
            with self.conn.transaction():
                self.conn.execute(
                    f"SET LOCAL lock_timeout = "
                    f"{int(self.settings.drain_lock_seconds * 1000)}".encode()
                )
                self.conn.execute(f"LOCK TABLE {names} IN SHARE MODE".encode())
        except psycopg.errors.LockNotAvailable:
            raise hooks.HookError(
                f"drain: writes still in flight on PostgreSQL after "
                f"{self.settings.drain_lock_seconds}s"
            ) from None
        return time.monotonic() - started

    def _changed(self, final: bool) -> pg_capture.ChangedKeys:
        """Keys changed since the switch (catch-up), or since the catch-up's read (final)."""
        if not final:
            return pg_capture.changed_keys(
                self.conn, self.report.since, state_schema=self.plan.state_schema
            )
        mark = self.journal.figures("rollback:catch-up")
        return self._after(int(mark["high"]), int(mark["xmin"]))

    def _after(self, high: int, xmin: int) -> pg_capture.ChangedKeys:
        return pg_capture.changed_keys(
            self.conn, high, state_schema=self.plan.state_schema, since_xmin=xmin
        )

    def _carry(self, step: str, changed: pg_capture.ChangedKeys) -> dict[str, Any]:
        from vendzz_migrate.cutover.reverse_sync import open_sqlite, sync

        lite = open_sqlite(self.plan.source)
        try:
            result = sync(
                self.conn,
                lite,
                self.mapping(),
                changed,
                schema=self.plan.schema_name,
                batch_rows=self.settings.batch_rows,
            )
        finally:
            lite.close()
        rate = result.rows / result.seconds if result.seconds > 0 else None
        if result.unfit:
            report = self.report
            report.unfit = [
                UnfitItem(table=u.table, key=u.key, column=u.column, reason=u.reason)
                for u in result.unfit
            ]
            self.journal.record(
                f"rollback:{step}",
                "failed",
                {"unfit": [u.model_dump() for u in report.unfit[:100]]},
            )
            first = report.unfit[0]
            where = (
                "the service still writes on PostgreSQL (no freeze yet)"
                if step == "catch-up"
                else "the service is still frozen on PostgreSQL"
            )
            raise UnfitRows(
                f"{len(report.unfit)} row(s) written on PostgreSQL cannot go back "
                f"into SQLite (first: {first.table} {first.key} {first.column}: "
                f"{first.reason}); {where}: fix those rows there and run "
                f"--rollback again, or unfreeze to stay",
                report=report,
            )
        return {
            "high": changed.high,
            "xmin": changed.xmin,
            "changed_keys": changed.counts(),
            "truncated": sorted(changed.truncated),
            "written": result.written,
            "deleted": result.deleted,
            "unchanged": result.unchanged,
            "seconds": result.seconds,
            "rows_per_second": rate,
        }

    def _verify(
        self, step: str, changed: pg_capture.ChangedKeys, counts: bool, moving: bool = False
    ) -> dict[str, Any]:
        from vendzz_migrate.cutover.reverse_sync import open_sqlite, verify_changed

        lite = open_sqlite(self.plan.source)
        try:
            result = verify_changed(
                self.conn,
                lite,
                self.mapping(),
                changed,
                schema=self.plan.schema_name,
                rejects=_rejects(self.conn, self.plan) if counts else None,
                batch_rows=self.settings.batch_rows,
                counts=counts,
            )
        finally:
            lite.close()
        if moving:  # writes go on: a key changed again since is the final phase's to check
            again = self._after(changed.high, changed.xmin)
            later = {(t, json.dumps(k, sort_keys=True)) for t, ks in again.keys.items() for k in ks}
            result.diffs = [
                d
                for d in result.diffs
                if d.table not in again.truncated
                and (self._pg_name(d.table), json.dumps(d.key, sort_keys=True)) not in later
            ]
        self.report.verify_checked_keys += result.checked_keys
        self.report.row_counts = dict[str, tuple[int, int, int]](result.counts) or (
            self.report.row_counts
        )
        self.report.verify_diffs = [
            KeyDiffItem(
                table=d.table, key=d.key, column=d.column, sqlite=d.sqlite, postgres=d.postgres
            )
            for d in result.diffs[:100]
        ]
        if not result.ok:
            bad = result.count_mismatches
            self.journal.record(
                f"rollback:{step}", "failed", {"diffs": len(result.diffs), "counts": bad}
            )
            raise MismatchError(
                f"reverse verify: {len(result.diffs)} changed key(s) differ, "
                f"{len(bad)} table(s) with other row counts"
                f"{' (' + ', '.join(sorted(bad)[:5]) + ')' if bad else ''}",
                report=self.report,
            )
        return {"checked_keys": result.checked_keys, "tables": len(result.counts)}

    def _pg_name(self, sqlite_table: str) -> str:
        return self.mapping().target_table(sqlite_table)

    def step_catch_up(self) -> dict[str, Any]:
        """The bulk of the PostgreSQL era carried back while the service still writes there
        (nothing reads SQLite meanwhile), so the freeze only covers what changed since."""
        changed = self._changed(final=False)
        figures = self._carry("catch-up", changed)
        figures["verified"] = self._verify("catch-up", changed, counts=False, moving=True)[
            "checked_keys"
        ]
        return figures

    def step_reverse_sync(self) -> dict[str, Any]:
        return self._carry("reverse-sync", self._changed(final=True))

    def step_reverse_verify(self) -> dict[str, Any]:
        return self._verify("reverse-verify", self._changed(final=True), counts=True)

    def step_switch_back(self) -> dict[str, Any]:
        hooks.switch_to_sqlite(self.plan)
        return {}

    def step_smoke(self) -> dict[str, Any]:
        results = hooks.smoke(self.plan)
        healthy, detail = hooks.health(self.plan)
        failed = [r for r in results if not r.ok]
        if failed or not healthy:
            what = [f"{r.request}: {r.status} {r.detail}" for r in failed]
            if not healthy:
                what.append(f"health: {detail}")
            self.journal.record("rollback:smoke", "failed", {"failed": what})
            raise hooks.HookError("after the switch back to SQLite: " + "; ".join(what)[:300])
        return {"requests": len(results)}

    def step_unfreeze(self) -> dict[str, Any]:
        hooks.unfreeze(self.plan)
        return {"at": time.time()}

    def step_capture_off(self) -> dict[str, Any]:
        """Both captures off: PostgreSQL's triggers (its log kept), and SQLite's if a cutover
        step left it (the live file goes on without triggers, as before the cutover)."""
        from vendzz_migrate.cutover import capture

        removed = pg_capture.remove(
            self.conn,
            schema=self.plan.schema_name,
            state_schema=self.plan.state_schema,
            keep_log=True,
        )
        objects = capture.remove(self.plan.source) if Path(self.plan.source).is_file() else 0
        return {"tables": len(removed), "sqlite_capture_objects": objects}


# -- finish ---------------------------------------------------------------------------------------


def finish(plan: CutoverPlan) -> FinishReport:
    """Keep PostgreSQL: remove the capture on both sides (after the watch window)."""
    from vendzz_migrate.cutover import capture
    from vendzz_migrate.cutover.journal import open_journal

    with _connect(plan) as conn:
        journal = open_journal(plan, conn)
        state = journal.state()
        if state not in ("live-on-pg", "done") and not journal.done("finish"):
            raise StateError(
                f"cutover {plan.name} is {state}: --finish is for a cutover live "
                "on PostgreSQL (after the switch and the unfreeze)"
            )
        journal.record("finish", "started")
        removed = pg_capture.remove(conn, schema=plan.schema_name, state_schema=plan.state_schema)
        objects = capture.remove(plan.source) if Path(plan.source).is_file() else 0
        journal.record("finish", "done", {"pg_tables": len(removed), "sqlite_objects": objects})
    return FinishReport(
        cutover=plan.name, pg_capture_removed=removed, sqlite_capture_objects=objects
    )


def acked_in_sqlite(
    sqlite_path: Path, ack_log: Path, table: str = "quiz_responses", key: str = "id"
) -> tuple[int, int]:
    """(acknowledged writes, those missing from ``table``) for a writer's ack log (one id a
    line): the demo's and the tests' proof that no acknowledged write was lost."""
    import sqlite3

    ids = [line.strip() for line in Path(ack_log).read_text().splitlines() if line.strip()]
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        conn.execute("CREATE TEMP TABLE acked (id TEXT)")
        conn.executemany("INSERT INTO temp.acked VALUES (?)", [(i,) for i in ids])
        (missing,) = conn.execute(
            f'SELECT count(*) FROM temp.acked a WHERE NOT EXISTS (SELECT 1 FROM "{table}" t'
            f' WHERE CAST(t."{key}" AS TEXT) = a.id)'
        ).fetchone()
    finally:
        conn.close()
    return len(ids), int(missing)
