"""The cutover's journal: every step's start, end, outcome, figures and operator.

Written to the target's state schema (``{state}.cutover_journal``) AND appended, fsynced, to a
local JSON-lines file (``plan.journal_path()``), so the run can be followed and resumed when
PostgreSQL is unreachable. Reading prefers the file when it holds at least as many entries as
the database (the file is written first), else the database (the tool moved to another host).

Step names, in order, are :data:`STEPS`; the journal's :meth:`Journal.state` is derived from
the last decisive entries (``switch`` done -> switched, ``unfreeze`` done after it ->
live-on-pg, ``done`` -> done, ``abort`` done -> aborted, ``rollback`` done -> rolled-back).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from vendzz_migrate.cutover.plan import CutoverPlan
from vendzz_migrate.pg import ident

if TYPE_CHECKING:
    import psycopg

STEPS = (
    "preflight",
    "capture-on",
    "copy",
    "verify",
    "catch-up",
    "warm-cache",
    "postpone",
    "freeze",
    "drain",
    "final-delta",
    "verify-changed",
    "sequences",
    "cache-refresh",
    "switch",
    "smoke",
    "unfreeze",
    "watch",
    "capture-off",
    "done",
)
# the steps that run inside the write freeze (freeze ... unfreeze excluded)
FROZEN_STEPS = STEPS[STEPS.index("freeze") + 1 : STEPS.index("unfreeze")]
Outcome = Literal["started", "done", "failed", "skipped"]

JOURNAL_SQL = """CREATE TABLE IF NOT EXISTS {state}.cutover_journal (
    id        bigserial PRIMARY KEY,
    cutover   text NOT NULL,
    step      text NOT NULL,
    outcome   text NOT NULL,
    at        timestamptz NOT NULL,
    operator  text NOT NULL,
    figures   jsonb NOT NULL DEFAULT '{{}}')"""


class Entry(BaseModel):
    step: str
    outcome: str
    at: float = Field(description="UNIX time")
    operator: str
    figures: dict[str, Any] = Field(default_factory=dict)

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def operator() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class Journal:
    def __init__(self, plan: CutoverPlan, conn: psycopg.Connection | None) -> None:
        self.plan = plan
        self.conn = conn  # autocommit; None: PostgreSQL unreachable, file only
        self.path = plan.journal_path()
        self._entries = self._load()

    # -- writing --------------------------------------------------------------------------
    def record(self, step: str, outcome: Outcome, figures: dict[str, Any] | None = None) -> Entry:
        entry = Entry(
            step=step, outcome=outcome, at=time.time(), operator=operator(), figures=figures or {}
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(entry.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._entries.append(entry)
        self._to_db(entry)
        return entry

    def _to_db(self, entry: Entry) -> None:
        if self.conn is None:
            return
        import psycopg

        try:
            self.conn.execute(
                f"INSERT INTO {ident(self.plan.state_schema)}.cutover_journal (cutover, step,"
                f" outcome, at, operator, figures) VALUES (%s, %s, %s, to_timestamp(%s), %s,"
                f" %s)".encode(),
                (
                    self.plan.name,
                    entry.step,
                    entry.outcome,
                    entry.at,
                    entry.operator,
                    json.dumps(entry.figures),
                ),
            )
        except psycopg.Error:
            self.conn = None  # the file has it; the database copy resumes on the next open

    def reset(self) -> None:
        """Forget a finished or aborted cutover (a new run of the same plan)."""
        if self.path.exists():
            self.path.rename(self.path.with_name(f"{self.path.name}.{int(time.time())}"))
        if self.conn is not None:
            self.conn.execute(
                f"DELETE FROM {ident(self.plan.state_schema)}.cutover_journal"
                f" WHERE cutover = %s".encode(),
                (self.plan.name,),
            )
        self._entries = []

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> list[Entry]:
        local: list[Entry] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        local.append(Entry.model_validate_json(line))
                    except ValueError:
                        break  # a torn last line (kill -9 mid-write): everything before it holds
        remote = self._from_db()
        return remote if len(remote) > len(local) else local

    def _from_db(self) -> list[Entry]:
        if self.conn is None:
            return []
        found = self.conn.execute(
            "SELECT to_regclass(%s)", (f"{ident(self.plan.state_schema)}.cutover_journal",)
        ).fetchone()
        if not found or found[0] is None:
            return []
        rows = self.conn.execute(
            f"SELECT step, outcome, extract(epoch FROM at), operator, figures FROM"
            f" {ident(self.plan.state_schema)}.cutover_journal WHERE cutover = %s"
            " ORDER BY id".encode(),
            (self.plan.name,),
        ).fetchall()
        return [
            Entry(step=s, outcome=o, at=float(a), operator=op, figures=f or {})
            for s, o, a, op, f in rows
        ]

    def entries(self) -> list[Entry]:
        return list(self._entries)

    def done(self, step: str) -> bool:
        return any(e.step == step and e.outcome in ("done", "skipped") for e in self._entries)

    def started(self, step: str) -> Entry | None:
        return next(
            (e for e in reversed(self._entries) if e.step == step and e.outcome == "started"), None
        )

    def figures(self, step: str) -> dict[str, Any]:
        found = next(
            (e for e in reversed(self._entries) if e.step == step and e.outcome == "done"), None
        )
        return dict(found.figures) if found else {}

    def last(self) -> Entry | None:
        return self._entries[-1] if self._entries else None

    def next_step(self) -> str | None:
        return next((s for s in STEPS if not self.done(s)), None)

    def state(self) -> str:
        if not self._entries:
            return "new"
        if self.done("rollback"):
            return "rolled-back"
        if self.done("abort"):
            return "aborted"
        if self.done("done"):
            return "done"
        if self.done("unfreeze") and self.done("switch"):
            return "live-on-pg"
        if self.done("switch"):
            return "switched"
        if self.done("freeze") and not self.done("unfreeze"):
            return "frozen"
        return "running"


def open_journal(plan: CutoverPlan, conn: psycopg.Connection | None) -> Journal:
    """The plan's journal; creates its table when PostgreSQL is reachable."""
    if conn is not None:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(plan.state_schema)}".encode())
        conn.execute(JOURNAL_SQL.format(state=ident(plan.state_schema)).encode())
    return Journal(plan, conn)


def local_only(path: Path) -> list[Entry]:
    return [Entry.model_validate_json(x) for x in path.read_text().splitlines() if x.strip()]
