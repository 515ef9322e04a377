"""cutover: move the live service from SQLite to PostgreSQL with a freeze of seconds.

    report = engine.run(plan)             # or resume=True after a crash / kill -9
    engine.abort(plan)                    # before the freeze is lifted: back to SQLite

Steps (``journal.STEPS``), each journaled and idempotent:

  preflight -> capture-on -> copy (service writing) -> verify (the copy's snapshot) ->
  catch-up (delta syncs until the backlog is small) -> warm-cache -> postpone (flag file) ->
  freeze -> drain -> final-delta -> verify-changed (changed keys + row counts) -> sequences ->
  cache-refresh -> switch -> smoke (+ health) -> unfreeze -> watch -> capture-off -> done

Decision points: preflight fails -> stop, nothing touched; a verify mismatch -> unfreeze, back
to SQLite, MismatchError with the differences; the freeze outlasts its budget -> back to
SQLite; smoke or health fails -> switch back to SQLite (the freeze still holds, so no write was
accepted on PostgreSQL), unfreeze; the panic flag file -> back to SQLite at once; the postpone
flag file holds the run before the freeze. After ``unfreeze``, going back is ``--rollback``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from vendzz_migrate import events
from vendzz_migrate.cutover import capture, delta, hooks, keyverify
from vendzz_migrate.cutover.journal import STEPS, Journal, open_journal
from vendzz_migrate.cutover.plan import CutoverPlan
from vendzz_migrate.errors import (
    ConnectionFailed,
    ExitCode,
    KeysNotWritten,
    MismatchError,
    PreflightFailed,
    StateError,
    VendzzError,
)
from vendzz_migrate.pg import DURABLE_SESSION, connect, require_url
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    import psycopg

FROZEN = ("drain", "final-delta", "verify-changed", "sequences", "cache-refresh", "switch", "smoke")


class CutoverAborted(VendzzError):
    """A decision point sent the service back to SQLite (or the operator did)."""

    exit_code = ExitCode.CHECK_FAILED


class StepFigure(BaseModel):
    step: str
    outcome: str
    at: str
    operator: str
    figures: dict[str, Any] = Field(default_factory=dict)


class CutoverReport(BaseModel):
    name: str
    source: str
    target: str
    state: str
    next_step: str | None = None
    freeze_seconds: float | None = None
    steps: list[StepFigure] = Field(default_factory=list)

    def lines(self) -> list[str]:
        """The journal, one line per entry (for --status)."""
        return [
            f"{s.at}  {s.step:<15} {s.outcome:<8} {s.operator}"
            + (f"  {_short(s.figures)}" if s.figures else "")
            for s in self.steps
        ]

    def summary(self) -> str:
        freeze = (
            f", write freeze {self.freeze_seconds:.2f}s" if self.freeze_seconds is not None else ""
        )
        nxt = f", next step: {self.next_step}" if self.next_step else ""
        return f"cutover {self.name}: {self.state}{freeze}{nxt}"


def _short(figures: dict[str, Any]) -> str:
    text = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in figures.items()
        if not isinstance(v, dict | list)
    )
    return text[:160]


def _connect(plan: CutoverPlan) -> psycopg.Connection:
    return connect(
        require_url(plan.target_url()), command="cutover", autocommit=True, session=DURABLE_SESSION
    )


def report_of(plan: CutoverPlan, journal: Journal) -> CutoverReport:
    freeze = journal.started("freeze")
    unfrozen = next(
        (
            e
            for e in reversed(journal.entries())
            if e.step in ("unfreeze", "abort") and e.outcome == "done"
        ),
        None,
    )
    seconds = (unfrozen.at - freeze.at) if freeze and unfrozen and unfrozen.at > freeze.at else None
    return CutoverReport(
        name=plan.name,
        source=str(plan.source),
        target=mask(plan.target_url()),
        state=journal.state(),
        next_step=journal.next_step(),
        freeze_seconds=seconds,
        steps=[
            StepFigure(
                step=e.step, outcome=e.outcome, at=e.when, operator=e.operator, figures=e.figures
            )
            for e in journal.entries()
        ],
    )


def status(plan: CutoverPlan) -> CutoverReport:
    """Where the cutover stands (the journal; the local file when PostgreSQL is unreachable)."""
    try:
        conn: psycopg.Connection | None = _connect(plan)
    except (ConnectionFailed, VendzzError):
        conn = None
    try:
        return report_of(plan, open_journal(plan, conn))
    finally:
        if conn is not None:
            conn.close()


def run(
    plan: CutoverPlan, *, resume: bool = False, on_event: events.Sink = events.discard
) -> CutoverReport:
    """Run (or ``resume``) the cutover to its end; steps, notes and the progress of the copy,
    verify and warm-cache inside it go to ``on_event``; the journal records every step."""
    conn = _connect(plan)
    try:
        journal = open_journal(plan, conn)
        state = journal.state()
        if state in ("done", "aborted", "rolled-back") and not resume:
            journal.reset()
            state = "new"
        if state == "new" and resume:
            raise StateError(f"nothing to resume: no cutover {plan.name!r} under way")
        if journal.started("abort") is not None and not journal.done("abort"):
            raise StateError(
                f"cutover {plan.name!r} was going back to SQLite when it stopped: "
                "finish that with --abort"
            )
        if state not in ("new", "done", "aborted", "rolled-back") and not resume:
            raise StateError(
                f"cutover {plan.name!r} was interrupted ({state}, next step "
                f"{journal.next_step()}): rerun with --resume, or --abort"
            )
        Engine(plan, conn, journal, on_event).run()
        return report_of(plan, journal)
    finally:
        conn.close()


def abort(plan: CutoverPlan, reason: str = "--abort") -> CutoverReport:
    """Back to SQLite: switch back if switched, unfreeze, remove the capture. Refused once the
    freeze was lifted after the switch (PostgreSQL took writes: that is ``--rollback``)."""
    try:
        conn: psycopg.Connection | None = _connect(plan)
    except VendzzError:
        conn = None
    try:
        journal = open_journal(plan, conn)
        lifted = journal.done("switch") and journal.started("unfreeze") is not None
        if journal.state() in ("live-on-pg", "done") or lifted:
            raise StateError(
                "the service already writes to PostgreSQL (or may: the freeze "
                "was being lifted): going back now is `cutover --rollback` (it "
                "carries those writes back)"
            )
        _back_to_sqlite(plan, journal, reason)
        return report_of(plan, journal)
    finally:
        if conn is not None:
            conn.close()


def _back_to_sqlite(plan: CutoverPlan, journal: Journal, reason: str) -> None:
    journal.record("abort", "started", {"reason": reason})
    if journal.done("switch") or journal.started("switch"):
        hooks.switch_to_sqlite(plan)
    hooks.unfreeze(plan)  # idempotent: harmless when the freeze never began
    dropped = capture.remove(plan.source) if plan.source.exists() else 0
    _remove_copy_snapshot(journal)
    journal.record("abort", "done", {"reason": reason, "capture_objects_dropped": dropped})


def _remove_copy_snapshot(journal: Journal) -> None:
    """The copy's snapshot (kept for the verify step) once the cutover no longer needs it."""
    path = journal.figures("copy").get("snapshot")
    if path:
        Path(path).unlink(missing_ok=True)


class Engine:
    def __init__(
        self,
        plan: CutoverPlan,
        conn: psycopg.Connection,
        journal: Journal,
        on_event: events.Sink = events.discard,
    ) -> None:
        self.plan = plan
        self.on_event = on_event
        self.conn = conn
        self.journal = journal
        self.url = require_url(plan.target_url())
        self._target: delta.Target | None = None
        self.probe: Any = None  # a watch.Probe (e.g. vendzz_migrate.monitor's); None: /metrics

    # -- driving ---------------------------------------------------------------------------
    def run(self) -> None:
        actions: dict[str, Callable[[], dict[str, Any]]] = {
            "preflight": self.preflight,
            "capture-on": self.capture_on,
            "copy": self.copy,
            "verify": self.verify,
            "catch-up": self.catch_up,
            "warm-cache": self.warm_cache,
            "postpone": self.postpone,
            "freeze": self.freeze,
            "drain": self.drain,
            "final-delta": self.final_delta,
            "verify-changed": self.verify_changed,
            "sequences": self.sequences,
            "cache-refresh": self.cache_refresh,
            "switch": self.switch,
            "smoke": self.smoke,
            "unfreeze": self.unfreeze,
            "watch": self.watch,
            "capture-off": self.capture_off,
            "done": lambda: {},
        }
        caller = self.on_event
        for number, step in enumerate(STEPS, 1):
            if self.journal.done(step):
                continue
            said = events.Kept(caller, ("note", "warning"))
            self.on_event = said  # what the step's copy, verify, warm-cache... said, journaled
            try:
                with events.step(caller, number, len(STEPS), step):
                    self.journal.record(step, "started")
                    _kill_point(step)
                    try:
                        self._panic_check()
                        if step in FROZEN:
                            self._budget_check()
                        began = time.monotonic()
                        figures = actions[step]()
                        self._step_budget(step, time.monotonic() - began)
                    except VendzzError as exc:
                        self._failed(step, exc, said.lines())
                        raise
                    _kill_point(step, after=True)
            finally:
                self.on_event = caller
            self.journal.record(step, "done", {**figures, **said.lines()})

    def _failed(self, step: str, exc: VendzzError, said: dict[str, Any] | None = None) -> None:
        self.journal.record(step, "failed", {"error": str(exc), **(said or {})})
        frozen = self.journal.started("freeze") is not None and not self.journal.done("unfreeze")
        decisive = isinstance(exc, MismatchError | CutoverAborted) or frozen
        if decisive and not self.journal.done("unfreeze") and not self.journal.done("abort"):
            _back_to_sqlite(self.plan, self.journal, f"{step}: {exc}")

    def _panic_check(self) -> None:
        if self.plan.panic_path().exists():
            raise CutoverAborted(
                f"panic flag file {self.plan.panic_path()} found: aborted to SQLite"
            )

    def _step_budget(self, step: str, seconds: float) -> None:
        limit = self.plan.budgets.step_seconds.get(step)
        if limit is not None and seconds > limit and step not in ("switch", "watch"):
            raise CutoverAborted(
                f"step {step} took {seconds:.1f}s, over its limit of {limit:g}s: aborted to SQLite"
            )

    def _budget_check(self) -> None:
        started = self.journal.started("freeze")
        if started is None:
            return
        spent = time.time() - started.at
        if spent > self.plan.budgets.max_freeze_seconds:
            raise CutoverAborted(
                f"the write freeze lasted {spent:.1f}s, over its budget of "
                f"{self.plan.budgets.max_freeze_seconds:g}s: aborted to SQLite"
            )

    def target(self) -> delta.Target:
        if self._target is None:
            delta.ensure_marks(self.conn, self.plan.state_schema)
            self._target = delta.target_for(
                self.conn, self.plan.source, self.plan.schema_name, self.plan.state_schema
            )
        return self._target

    def mark(self) -> int:
        found = delta.applied_mark(self.conn, self.plan.state_schema, self.plan.name)
        if found is None:
            raise StateError("no applied high-water mark: the copy step did not finish")
        return found

    def copy_mark(self) -> int:
        return int(self.journal.figures("copy")["mark"])

    # -- prepare ---------------------------------------------------------------------------
    def preflight(self) -> dict[str, Any]:
        if not self.plan.preflight_profile:
            return {"skipped": "no preflight_profile in the plan"}
        from vendzz_migrate.preflight.runner import PreflightOptions
        from vendzz_migrate.preflight.runner import run as preflight
        from vendzz_migrate.settings import Settings

        settings = Settings(database_url=self.url, redis_url=self.plan.cache_url())
        opts = PreflightOptions.from_settings(
            settings, profile=self.plan.preflight_profile, source=self.plan.source
        )
        try:
            report = preflight(opts, self.on_event)
        except PreflightFailed as exc:
            failed = [c for c in exc.report.checks if c.status == "fail"]
            named = "; ".join(f"{c.id} ({c.measured})" for c in failed[:5])
            raise PreflightFailed(
                f"preflight failed ({len(failed)} check(s)): {named}", exc.report
            ) from None
        return {"checks": len(report.checks)}

    def _skip(self) -> tuple[str, ...]:
        if self.plan.mapping:
            from vendzz_migrate.typemap import mapping as maps

            return tuple(maps.load(self.plan.mapping).skip_tables)
        return insp.DEFAULT_SKIP

    def capture_on(self) -> dict[str, Any]:
        caps = capture.install(self.plan.source, self._skip())
        return {"tables": [c.table for c in caps]}

    def copy(self) -> dict[str, Any]:
        from vendzz_migrate.copy.run import CopyOptions
        from vendzz_migrate.copy.run import run as copy_run
        from vendzz_migrate.state.store import Store

        prior = Store(self.conn, self.plan.state_schema).active_run(self.plan.schema_name)
        if not self.journal.done("copy:replacing"):  # what was there before this cutover
            self.journal.record(
                "copy:replacing", "done", {"run_id": prior.run_id if prior else None}
            )
        replacing = self.journal.figures("copy:replacing").get("run_id")
        ours = prior is not None and prior.run_id != replacing  # made by this cutover
        report = None
        if not ours or (prior is not None and prior.status == "running"):
            # an earlier cutover's copy is started over; an interrupted one of ours resumed
            report = copy_run(
                CopyOptions(
                    source=self.plan.source,
                    target_url=self.url,
                    schema_name=self.plan.schema_name,
                    state_schema=self.plan.state_schema,
                    mapping_path=self.plan.mapping,
                    workers=self.plan.workers,
                    allow_rejects=self.plan.allow_rejects,
                    work_dir=self.plan.work_dir,
                    resume=ours,
                    restart=prior is not None and not ours,
                    keep_snapshot=True,
                ),
                self.on_event,
            )  # the verify step reads it; removed by capture-off/abort
        run = Store(self.conn, self.plan.state_schema).active_run(self.plan.schema_name)
        assert run is not None
        mark = _snapshot_mark(Path(run.snapshot))
        delta.ensure_marks(self.conn, self.plan.state_schema)
        delta.set_mark(self.conn, self.plan.state_schema, self.plan.name, mark)
        rows = report.total.copied_rows if report else None
        secs = report.seconds if report else None
        return {
            "mark": mark,
            "rows": rows,
            "seconds": secs,
            "snapshot": run.snapshot,
            "rows_per_second": (rows / secs) if rows and secs else None,
        }

    def verify(self) -> dict[str, Any]:
        from vendzz_migrate.verify import VerifyOptions
        from vendzz_migrate.verify import run as verify_run

        snap = Path(self.journal.figures("copy")["snapshot"])
        report = verify_run(
            VerifyOptions(
                source=snap,
                target_url=self.url,
                schema_name=self.plan.schema_name,
                state_schema=self.plan.state_schema,
                mapping_path=self.plan.mapping,
                strict=not self.plan.allow_rejects,
            ),
            self.on_event,
        )
        return {
            "tables": report.total.tables,
            "rows": report.total.source_rows,
            "seconds": report.seconds,
            "against": "the copy's snapshot",
        }

    def _delta(self) -> delta.DeltaReport:
        """One delta sync of the changes captured since the mark."""
        return delta.sync(
            self.plan.source,
            self.target(),
            self.plan.name,
            self.mark(),
            self.plan.budgets.delta_batch_keys,
        )

    def catch_up(self) -> dict[str, Any]:
        rounds, keys, seconds = 0, 0, 0.0
        backlog = 0
        for rounds in range(1, self.plan.budgets.catchup_rounds + 1):
            self._panic_check()
            rep = self._delta()
            keys += rep.keys
            seconds += rep.seconds
            backlog = delta.count_backlog(self.plan.source, rep.upto)
            now = rep.keys / rep.seconds if rep.seconds > 0 else 0.0
            expect = f", expected freeze {backlog / now:.1f}s" if now else ""
            events.note(
                self.on_event,
                f"  catch-up {rounds}: {rep.keys} key(s) in {rep.seconds:.2f}s "
                f"({now:,.0f} keys/s), backlog {backlog}{expect}",
            )
            self._no_rejects(rep)
            if backlog <= self.plan.budgets.catchup_backlog_rows:
                break
        rate = keys / seconds if seconds > 0 else None
        return {
            "rounds": rounds,
            "keys": keys,
            "seconds": seconds,
            "keys_per_second": rate,
            "backlog": backlog,
            "expected_freeze_seconds": (backlog / rate) if rate else None,
            **self._verify_applied(self.copy_mark()),
        }

    def _verify_applied(self, after: int) -> dict[str, Any]:
        """Before the freeze: compare the keys applied so far (those changed again since are
        left to the freeze), so that the freeze verifies only what changed after this."""
        upto = self.mark()
        lite = delta.open_source(self.plan.source)
        try:
            lite.execute("BEGIN")
            report = keyverify.run(self.target(), lite, after, applied=upto)
        finally:
            lite.close()
        if not report.ok:
            raise MismatchError(f"verify of the caught-up keys: {report.summary()}", report=report)
        return {"verified_upto": upto, "verified_keys": report.keys}

    def verified_upto(self) -> int:
        marks = [self.journal.figures(s).get("verified_upto") for s in ("catch-up", "postpone")]
        return max([self.copy_mark(), *[int(m) for m in marks if m is not None]])

    def _no_rejects(self, rep: delta.DeltaReport) -> None:
        if rep.rejected and not self.plan.allow_rejects:
            raise CutoverAborted(
                f"{rep.rejected} changed row(s) could not be converted and "
                f"were quarantined in {self.plan.state_schema}.rejects; the "
                "plan does not allow rejects (allow_rejects: true)"
            )

    def warm_cache(self) -> dict[str, Any]:
        if not self.plan.cache_spec or not self.plan.cache_url():
            return {"skipped": "no cache_spec or redis_url in the plan"}
        from vendzz_migrate.cache.spec import load_spec
        from vendzz_migrate.cache.warm import WarmOptions, warm
        from vendzz_migrate.settings import Settings

        settings = Settings(database_url=self.url, redis_url=self.plan.cache_url())
        opts = WarmOptions.from_settings(settings, spec=load_spec(self.plan.cache_spec))
        try:
            report = warm(opts, self.on_event)
        except KeysNotWritten as exc:  # a cache is not the data: keys refused are in the report
            report = exc.report
        return {"report": report.model_dump(mode="json")}

    def postpone(self) -> dict[str, Any]:
        flag = self.plan.postpone_path()
        held = 0.0
        started = time.monotonic()
        told = False
        while flag.exists():
            if not told:
                events.note(
                    self.on_event,
                    f"  holding: postpone flag file {flag} exists (remove it to go on)",
                )
                told = True
            self._panic_check()
            # keep the backlog small while holding, so the freeze stays short
            rep = self._delta()
            if rep.keys:
                events.debug(
                    self.on_event, f"  holding: {rep.keys} key(s) synced in {rep.seconds:.2f}s"
                )
            time.sleep(0.5)
            held = time.monotonic() - started
        if held:  # what the hold applied is verified now, not in the freeze
            self._delta()
            return {"held_seconds": held, **self._verify_applied(self.verified_upto())}
        return {"held_seconds": held}

    # -- the freeze ------------------------------------------------------------------------
    def freeze(self) -> dict[str, Any]:
        hooks.freeze(self.plan)
        return {}

    def drain(self) -> dict[str, Any]:
        return {"seconds": hooks.drain(self.plan)}

    def final_delta(self) -> dict[str, Any]:
        rep = self._delta()
        self._no_rejects(rep)
        return rep.model_dump(mode="json")

    def verify_changed(self) -> dict[str, Any]:
        lite = delta.open_source(self.plan.source)
        try:
            lite.execute("BEGIN")
            after = self.verified_upto()
            report = keyverify.run(self.target(), lite, after)
        finally:
            lite.close()
        if not report.ok:
            raise MismatchError(f"verify of the changed keys: {report.summary()}", report=report)
        return {"keys": report.keys, "tables": report.tables, "after": after}

    def sequences(self) -> dict[str, Any]:
        return {"sequences": dict(delta.set_sequences(self.plan.source, self.target()))}

    def cache_refresh(self) -> dict[str, Any]:
        from vendzz_migrate.cutover import cacherefresh

        lite = delta.open_source(self.plan.source)
        try:
            lite.execute("BEGIN")
            return cacherefresh.refresh(self.plan, lite, self.copy_mark())
        finally:
            lite.close()

    def switch(self) -> dict[str, Any]:
        self._budget_check()
        hooks.switch_to_pg(self.plan)
        with contextlib.suppress(ImportError):  # #17: PostgreSQL-side capture for --rollback
            rollback = importlib.import_module("vendzz_migrate.cutover.rollback")
            on_switch = getattr(rollback, "on_switch", None)
            if on_switch is not None:
                on_switch(self.plan)
        return {}

    def smoke(self) -> dict[str, Any]:
        results = hooks.smoke(self.plan)
        healthy, detail = hooks.health(self.plan)
        bad = [r for r in results if not r.ok]
        if bad or not healthy:
            what = "; ".join(f"{r.request}: {r.status} {r.detail}" for r in bad)
            raise CutoverAborted(
                f"smoke failed after the switch ({what or 'health: ' + detail})"
                ": switched back to SQLite"
            )
        return {"requests": len(results), "health": detail}

    def unfreeze(self) -> dict[str, Any]:
        self._budget_check()
        hooks.unfreeze(self.plan)
        started = self.journal.started("freeze")
        return {"freeze_seconds": time.time() - started.at if started else None}

    def watch(self) -> dict[str, Any]:
        from vendzz_migrate.cutover.watch import monitor_watch, watch

        if self.probe:
            report = watch(self.plan, self.probe)
        elif self.plan.watch.monitor_profile:
            report = monitor_watch(self.plan)
        else:
            report = watch(self.plan)
        if not report.ok:
            raise CutoverAborted(
                f"watch window: {report.reason}; the service writes to "
                "PostgreSQL: consider `cutover --rollback`",
                report=report,
            )
        return report.model_dump(mode="json")

    def capture_off(self) -> dict[str, Any]:
        _remove_copy_snapshot(self.journal)
        return {"dropped": capture.remove(self.plan.source)}


def _kill_point(step: str, *, after: bool = False) -> None:
    """Tests of --resume: ``VENDZZ_CUTOVER_KILL_AT=<step>`` sends this process SIGKILL (a real
    kill -9) once the step is journaled as started; ``VENDZZ_CUTOVER_KILL_AFTER=<step>`` once
    its work is done but before that is journaled (the step then runs twice)."""
    name = "VENDZZ_CUTOVER_KILL_AFTER" if after else "VENDZZ_CUTOVER_KILL_AT"
    if os.environ.get(name) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _snapshot_mark(path: Path) -> int:
    from vendzz_migrate.source import snapshot

    lite = snapshot.open_snapshot(path)
    try:
        return capture.high_water(lite)
    finally:
        lite.close()
