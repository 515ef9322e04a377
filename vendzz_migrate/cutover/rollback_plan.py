"""``cutover --rollback-plan``: the document the on-call person reads at 2 a.m.

Every step, what undoes it, the decision point that triggers that, its time budget, the exact
commands to type (this plan's paths and URLs, passwords masked), and, when the servers answer,
measured figures: rows, the capture backlog, the delta rate, the expected freeze window.
Touches nothing: it only reads.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vendzz_migrate.cutover import capture
from vendzz_migrate.cutover.journal import FROZEN_STEPS, STEPS
from vendzz_migrate.cutover.plan import CutoverPlan, Hook
from vendzz_migrate.errors import VendzzError
from vendzz_migrate.urls import mask, mask_text

if TYPE_CHECKING:
    from vendzz_migrate.cutover.journal import Journal


@dataclass(frozen=True)
class StepDoc:
    what: str
    undo: str
    decision: str


DOCS: dict[str, StepDoc] = {
    "preflight": StepDoc(
        "check host, pools, PostgreSQL, Redis and the SQLite file against the profile",
        "nothing to undo (read only)",
        "a failed check stops the run before anything is touched",
    ),
    "capture-on": StepDoc(
        "install AFTER INSERT/UPDATE/DELETE triggers and the "
        "`_vendzz_capture_log` table in the SQLite file",
        "`--abort` drops them (the file is otherwise unchanged)",
        "none: the service keeps writing",
    ),
    "copy": StepDoc(
        "copy a snapshot of the live file into PostgreSQL (service writing); the "
        "snapshot records the capture's high-water mark",
        "nothing to undo on SQLite; the PostgreSQL tables are replaced by the next run",
        "rows the mapping cannot hold stop the run unless allow_rejects",
    ),
    "verify": StepDoc(
        "verify PostgreSQL against the snapshot the copy was made from",
        "`--abort`",
        "a mismatch -> back to SQLite, exit 9 with the differences",
    ),
    "catch-up": StepDoc(
        "delta syncs of the captured changes until the backlog is small",
        "`--abort`",
        "a changed row that cannot be converted stops the run",
    ),
    "warm-cache": StepDoc(
        "warm Redis from PostgreSQL", "nothing (the cache is disposable)", "none"
    ),
    "postpone": StepDoc(
        "hold while the postpone flag file exists (deltas keep running)",
        "`--abort`, or create the panic flag file",
        "remove the postpone flag file to go on",
    ),
    "freeze": StepDoc(
        "turn the service's maintenance mode on: writes answer 503 + Retry-After",
        "unfreeze (automatic on every abort)",
        "the freeze budget starts here",
    ),
    "drain": StepDoc(
        "wait for the writes in flight to finish",
        "automatic abort",
        "still in flight after the drain timeout -> back to SQLite",
    ),
    "final-delta": StepDoc(
        "apply the last captured changes", "automatic abort", "freeze over budget -> back to SQLite"
    ),
    "verify-changed": StepDoc(
        "verify every key changed since the copy and every table's row count",
        "automatic abort",
        "a mismatch -> back to SQLite, exit 9 with the differences",
    ),
    "sequences": StepDoc("set identity sequences past the new max ids", "harmless if left", "none"),
    "cache-refresh": StepDoc("re-warm or delete Redis keys of changed rows", "none", "none"),
    "switch": StepDoc(
        "switch the service to PostgreSQL (freeze still on)",
        "switch back to SQLite (automatic while frozen)",
        "a failing switch command -> back to SQLite",
    ),
    "smoke": StepDoc(
        "smoke requests and the health URL on PostgreSQL, freeze still on",
        "switch back to SQLite, unfreeze (nothing was written on PostgreSQL)",
        "any failed request or health check -> back to SQLite",
    ),
    "unfreeze": StepDoc(
        "lift the freeze: the service writes to PostgreSQL",
        "POINT OF NO SIMPLE RETURN: going back now is `--rollback` (it "
        "carries PostgreSQL's writes back into SQLite)",
        "none",
    ),
    "watch": StepDoc(
        "watch health, error rate and P95 for the watch window",
        "`--rollback`",
        "thresholds crossed -> exit non-zero, consider `--rollback`",
    ),
    "capture-off": StepDoc("drop the SQLite triggers and capture table", "none needed", "none"),
    "done": StepDoc(
        "the cutover is complete", "`--rollback` while the rollback window lasts", "none"
    ),
}


def _hook_text(hook: Hook) -> str:
    if hook.http is not None:
        body = f" -d '{hook.http.json_body}'" if hook.http.json_body is not None else ""
        return mask_text(f"curl -X {hook.http.method} {hook.http.url}{body}")
    if hook.command is not None:
        return mask_text(shlex.join(hook.command))
    if hook.redis_key is not None:
        value = hook.redis_key.value
        return (
            f"redis-cli SET {hook.redis_key.key} {value}"
            if value is not None
            else f"redis-cli DEL {hook.redis_key.key}"
        )
    assert hook.file is not None
    return f"touch {hook.file.path}" if hook.file.present else f"rm -f {hook.file.path}"


def figures(plan: CutoverPlan, journal: Journal | None) -> list[str]:
    """Measured lines; each one says when it could not be measured."""
    out: list[str] = []
    try:
        conn = sqlite3.connect(f"file:{plan.source}?mode=ro", uri=True, timeout=2)
        try:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                    "'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_vendzz%' ESCAPE '\\'"
                )
            ]
            rows = sum(
                int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables
            )
            out.append(f"- SQLite: {len(tables)} table(s), {rows:,} row(s)")
            if capture.installed(conn):
                mark = (journal.figures("copy").get("mark", 0) if journal else 0) or 0
                out.append(
                    f"- capture backlog: {capture.backlog(conn, int(mark)):,} change(s) "
                    "since the copy's snapshot"
                )
            else:
                out.append("- capture: not installed yet (no backlog)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        out.append(f"- SQLite not readable now: {exc}")
    catch = journal.figures("catch-up") if journal else {}
    if catch.get("keys_per_second"):
        out.append(
            f"- delta rate: {catch['keys_per_second']:,.0f} keys/s "
            f"(last catch-up, {catch['keys']} key(s))"
        )
        exp = catch.get("expected_freeze_seconds")
        if exp is not None:
            out.append(
                f"- expected freeze window: about {exp:.1f}s for the final delta "
                f"(budget {plan.budgets.max_freeze_seconds:g}s)"
            )
    else:
        out.append("- delta rate and expected freeze: measured by the catch-up step (not yet run)")
    out.extend(_after_switch(plan, journal))
    return out


def _after_switch(plan: CutoverPlan, journal: Journal | None) -> list[str]:
    """After the switch: what a rollback would carry back now (PostgreSQL capture backlog)."""
    if journal is None or journal.conn is None or not journal.done("rollback:capture-on"):
        return []
    import importlib

    try:
        pg_capture = importlib.import_module("vendzz_migrate.cutover.pg_capture")
        rollback = importlib.import_module("vendzz_migrate.cutover.rollback")
        since = int(journal.figures("rollback:capture-on").get("since", 0))
        backlog: dict[str, int] = pg_capture.backlog(
            journal.conn, since, state_schema=plan.state_schema
        )
    except (ImportError, VendzzError) as exc:
        return [f"- rollback backlog: not measured ({exc})"]
    total = sum(backlog.values())
    return [
        f"- rollback backlog: {total:,} key(s) written on PostgreSQL since the switch "
        f"({', '.join(f'{t} {n}' for t, n in backlog.items()) or 'none'}); expected "
        f"rollback freeze about {rollback.estimate_freeze(total):.1f}s"
    ]


def render(plan: CutoverPlan, plan_path: Path, journal: Journal | None) -> str:
    cmd = f"vendzz-migrate cutover --plan {shlex.quote(str(plan_path))}"
    b = plan.budgets
    lines = [
        f"# Cutover rollback plan: {plan.name}",
        "",
        f"- SQLite source: `{plan.source}`",
        f"- PostgreSQL: `{mask(plan.target_url())}` (schema `{plan.schema_name}`, state "
        f"`{plan.state_schema}`)",
        f"- Redis: `{mask(plan.cache_url())}`",
        f"- service: {plan.service.url} (health {plan.service.health_path})",
        f"- write freeze budget: {b.max_freeze_seconds:g}s; journal: `{plan.journal_path()}`",
        f"- postpone flag file: `{plan.postpone_path()}`; panic flag file: `{plan.panic_path()}`",
        "",
        "## Commands",
        "",
        f"- run / continue: `{cmd}` (`--resume` after a crash or kill -9)",
        f"- where it stands: `{cmd} --status`",
        f"- back to SQLite before the freeze is lifted: `{cmd} --abort`",
        f"- abort at once from anywhere: `touch {plan.panic_path()}`",
        f"- hold before the freeze: `touch {plan.postpone_path()}`; go on: "
        f"`rm {plan.postpone_path()}`",
        f"- after the switch: `{cmd} --rollback` (try `--rollback --dry-run` first)",
        f"- by hand, freeze: `{_hook_text(plan.hooks.freeze)}`; unfreeze: "
        f"`{_hook_text(plan.hooks.unfreeze)}`",
        f"- by hand, switch to PostgreSQL: `{_hook_text(plan.hooks.switch_to_pg)}`; back to "
        f"SQLite: `{_hook_text(plan.hooks.switch_to_sqlite)}`",
        "",
        "## Measured now",
        "",
        *figures(plan, journal),
        "",
        "## Steps",
        "",
        "| # | step | what it does | what undoes it | decision point | budget |",
        "|---|------|--------------|----------------|----------------|--------|",
    ]
    for i, step in enumerate(STEPS, 1):
        doc = DOCS[step]
        budget = b.step_seconds.get(step)
        budget_text = (
            f"{budget:g}s"
            if budget
            else (f"in the {b.max_freeze_seconds:g}s freeze" if step in FROZEN_STEPS else "-")
        )
        lines.append(f"| {i} | {step} | {doc.what} | {doc.undo} | {doc.decision} | {budget_text} |")
    lines += [
        "",
        "## Point of no return",
        "",
        "Until `unfreeze`, no write was accepted on PostgreSQL: every way back (abort, "
        "panic flag, a failed check) loses nothing. After `unfreeze`, PostgreSQL holds "
        "writes SQLite does not: only `--rollback` (reverse sync) goes back.",
        "",
    ]
    return "\n".join(lines)


def write(plan: CutoverPlan, plan_path: Path) -> tuple[Path, str]:
    """Render with figures (journal read when PostgreSQL answers) and write it atomically."""
    from vendzz_migrate.cutover.journal import Journal
    from vendzz_migrate.fileio import atomic_write_text
    from vendzz_migrate.pg import DURABLE_SESSION, connect

    journal = None
    conn = None
    try:
        url = plan.target_url()
        if url:
            conn = connect(
                url,
                command="cutover",
                role="rollback-plan",
                autocommit=True,
                timeout_s=3,
                session=DURABLE_SESSION,
            )
    except VendzzError:
        conn = None
    try:
        journal = Journal(plan, conn)  # reads only: creates nothing
        text = render(plan, plan_path, journal)
    finally:
        if conn is not None:
            conn.close()
    out = plan.work_dir / f"cutover-{plan.name}.rollback-plan.md"
    atomic_write_text(out, text)
    return out, text
