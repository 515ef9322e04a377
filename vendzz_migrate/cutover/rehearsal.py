"""The demo's cutover rehearsal: the reference service on a SQLite file, its writer client
writing throughout, a whole cutover to PostgreSQL, then the check that every acknowledged
write is in PostgreSQL, once. Needs the ``service`` extra (``pip install -e '.[service]'``)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vendzz_migrate import events
from vendzz_migrate.cutover import engine
from vendzz_migrate.cutover.plan import CutoverPlan, parse
from vendzz_migrate.errors import ConfigError, VendzzError
from vendzz_migrate.net import free_port
from vendzz_migrate.urls import mask


class RollbackDemo(BaseModel):
    state: str
    freeze_seconds: float | None
    writes_acknowledged: int
    writes_missing: int
    ack_log: str
    sqlite: str
    error: str | None = None


class CutoverDemo(BaseModel):
    state: str
    freeze_seconds: float | None
    writes_acknowledged: int
    writes_missing: int
    writes_duplicated: int
    ack_log: str
    sqlite: str
    postgres: str
    error: str | None = None
    rollback: RollbackDemo | None = None


def service_plan(
    source: Path, database: str, work: Path, url: str, state_dir: Path
) -> dict[str, Any]:
    """A cutover plan (as the plan file's mapping) driving the reference service at ``url``,
    run by ``examples.service.ctl`` from ``state_dir``: its maintenance endpoint freezes and
    drains, a restart switches, two smoke requests check it."""
    ctl = [
        sys.executable,
        "-m",
        "examples.service.ctl",
        "restart",
        "--state-dir",
        str(state_dir),
        "--database-url",
    ]
    admin = f"{url}/admin/maintenance"
    return {
        "name": "demo",
        "source": str(source),
        "database_url": database,
        "work_dir": str(work),
        "workers": 1,
        "service": {"url": url},
        "hooks": {
            "freeze": {"http": {"url": admin, "json": {"enabled": True}}},
            "unfreeze": {"http": {"url": admin, "json": {"enabled": False}}},
            "drain": {"kind": "http", "url": admin},
            "switch_to_pg": {"command": [*ctl, "$DATABASE_URL"]},
            "switch_to_sqlite": {"command": [*ctl, "$VENDZZ_SQLITE_URL"]},
        },
        "smoke": [
            {"path": "/health", "body_contains": '"status":"ok"'},
            {"path": "/api/quizzes?limit=1", "body_contains": "ids"},
        ],
    }


def plan_for(
    work: Path, source: Path, database: str, port: int, max_freeze_seconds: float = 5.0
) -> CutoverPlan:
    plan = service_plan(source, database, work, f"http://127.0.0.1:{port}", work / "service")
    plan["allow_rejects"] = True
    plan["watch"] = {"seconds": 3, "interval_seconds": 0.5}
    plan["budgets"] = {"max_freeze_seconds": max_freeze_seconds}
    return parse(plan, "demo plan")


def as_url(database: str) -> str:
    """A URL for the service (it takes URLs only) from a URL or a libpq conninfo string (the
    embedded server's, on a Unix socket)."""
    if database.startswith(("postgresql://", "postgres://")):
        return database
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(database).items() if v is not None}
    user = quote(params.pop("user", ""))
    password = params.pop("password", None)
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    name = quote(params.pop("dbname", ""))
    query = urlencode(params, quote_via=quote)  # %20, not +: libpq reads no + as a space
    return f"postgresql://{auth}/{name}" + (f"?{query}" if query else "")


def _wait(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def rehearse(
    sample: Path,
    database: str,
    work: Path,
    rate: float = 20.0,
    with_rollback: bool = False,
    max_freeze_seconds: float = 5.0,
    on_event: events.Sink = events.discard,
) -> CutoverDemo:
    """The cutover (and, ``with_rollback``, then the rollback to SQLite with the writer still
    writing, every acknowledged write of both eras checked in SQLite)."""
    try:
        from examples.service import ctl
        from examples.service.client import Writer, read_ack_log
    except ImportError as exc:
        raise ConfigError(
            "the cutover rehearsal needs the reference service (examples.service "
            f"and the package's 'service' extra), or --no-cutover ({exc})"
        ) from None
    work.mkdir(parents=True, exist_ok=True)
    source = work / "vendzz-live.db"
    shutil.copyfile(sample, source)
    ack_log = work / "acked.txt"
    ack_log.unlink(missing_ok=True)
    (work / "cutover-demo.journal.jsonl").unlink(missing_ok=True)
    port = free_port()
    state = ctl.State(work / "service")
    ctl.stop(state, timeout=30)
    state.maintenance_file.unlink(missing_ok=True)
    ctl.start(
        state,
        {"DATABASE_URL": f"sqlite:///{source}", "PORT": str(port), "REDIS_URL": ""},
        timeout=60,
    )
    plan = plan_for(work, source, as_url(database), port, max_freeze_seconds)
    writer = Writer(
        f"http://127.0.0.1:{port}",
        rate=rate,
        ack_log=ack_log,
        duration_s=900,
        max_retry_s=120,
        seed=1,
    )
    thread = threading.Thread(target=writer.run, daemon=True)
    error = None
    back: RollbackDemo | None = None
    try:
        thread.start()
        _wait(lambda: ack_log.exists() and len(read_ack_log(ack_log)) >= 10, 60)
        events.note(
            on_event,
            f"demo: cutover of the reference service (port {port}) with the writer "
            f"at {rate:g} writes/s",
        )
        try:
            report = engine.run(plan, on_event=on_event)
            state_name, freeze = report.state, report.freeze_seconds
            seen = len(read_ack_log(ack_log))
            _wait(lambda: len(read_ack_log(ack_log)) >= seen + 10, 30)  # writes on PostgreSQL
        except VendzzError as exc:
            error = str(exc)
            state_name, freeze = "aborted", None
        if with_rollback and state_name == "done":
            pg_acked = _pg_acked(database, ack_log)  # before the rollback: checked on PostgreSQL
            back = _roll_back(plan, source, ack_log, on_event)
    finally:
        writer.stop()
        thread.join(timeout=180)
        ctl.stop(state, timeout=30)
    acked = read_ack_log(ack_log) if ack_log.exists() else []
    if back is not None:
        acked, ids = pg_acked
    else:
        ids = _pg_ids(database) if state_name == "done" else _sqlite_ids(source)
    if back is not None:
        from vendzz_migrate.cutover.rollback import acked_in_sqlite

        back.writes_acknowledged, back.writes_missing = acked_in_sqlite(source, ack_log)
    return CutoverDemo(
        state=state_name,
        freeze_seconds=freeze,
        writes_acknowledged=len(acked),
        writes_missing=len(set(acked) - ids),
        writes_duplicated=len(acked) - len(set(acked)),
        ack_log=str(ack_log),
        sqlite=str(source),
        postgres=mask(database),
        error=error,
        rollback=back,
    )


def _pg_acked(database: str, ack_log: Path) -> tuple[list[str], set[str]]:
    from examples.service.client import read_ack_log

    return read_ack_log(ack_log), _pg_ids(database)


def _roll_back(
    plan: CutoverPlan, source: Path, ack_log: Path, on_event: events.Sink
) -> RollbackDemo:
    """``cutover --rollback`` with the writer still writing (on PostgreSQL, then SQLite)."""
    from examples.service.client import read_ack_log
    from vendzz_migrate.cutover import rollback

    events.note(on_event, "demo: rollback to SQLite with the writer still writing")
    try:
        report = rollback.rollback(plan)
        seen = len(read_ack_log(ack_log))
        _wait(lambda: len(read_ack_log(ack_log)) >= seen + 10, 30)  # writes on SQLite again
        return RollbackDemo(
            state="rolled-back",
            freeze_seconds=report.freeze_seconds,
            writes_acknowledged=0,
            writes_missing=0,
            ack_log=str(ack_log),
            sqlite=str(source),
        )
    except VendzzError as exc:
        return RollbackDemo(
            state="failed",
            freeze_seconds=None,
            writes_acknowledged=0,
            writes_missing=0,
            ack_log=str(ack_log),
            sqlite=str(source),
            error=str(exc),
        )


def _pg_ids(database: str) -> set[str]:
    from vendzz_migrate.pg import connect

    with connect(database, command="demo", role="rehearsal") as conn:
        return {str(r[0]) for r in conn.execute("SELECT id FROM quiz_responses")}


def _sqlite_ids(source: Path) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(source)
    try:
        return {str(r[0]) for r in conn.execute("SELECT id FROM quiz_responses")}
    finally:
        conn.close()
