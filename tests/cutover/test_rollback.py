"""cutover --rollback as a library call, on a real copy of a generated Vendzz file, with the
service's hooks as flag files and a small health endpoint: PostgreSQL-era writes come back,
the journal makes it resumable after kill -9 in any step, dry run, abort, finish, unfit rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.copy.helpers import copy
from vendzz_migrate.cutover import capture, pg_capture, rollback
from vendzz_migrate.cutover.journal import open_journal
from vendzz_migrate.cutover.plan import CutoverPlan, parse
from vendzz_migrate.errors import ExitCode, StateError
from vendzz_migrate.sample import generate
from vendzz_migrate.source.introspect import DEFAULT_SKIP

CUTOVER_STEPS = (
    "preflight",
    "capture-on",
    "copy",
    "verify",
    "catch-up",
    "freeze",
    "drain",
    "final-delta",
    "verify-changed",
    "sequences",
    "switch",
)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(5)


@dataclass
class World:
    plan: CutoverPlan
    pg: psycopg.Connection[Any]
    pg_url: str
    tmp: Path

    def flag(self, name: str) -> bool:
        return (self.tmp / name).exists()


def make_plan(tmp: Path, source: Path, pg_url: str, service_url: str) -> CutoverPlan:
    def flag(name: str, present: bool) -> dict[str, Any]:
        return {"file": {"path": str(tmp / name), "present": present}}

    return parse(
        {
            "name": "rb",
            "source": str(source),
            "database_url": pg_url,
            "work_dir": str(tmp / "w"),
            "service": {"url": service_url},
            "hooks": {
                "freeze": flag("frozen", True),
                "unfreeze": flag("frozen", False),
                "switch_to_pg": flag("on-pg", True),
                "switch_to_sqlite": flag("on-pg", False),
            },
            "rollback": {"batch_rows": 3},
        }
    )


@pytest.fixture
def world(pg_url: str, tmp_path: Path, service_url: str) -> Iterator[World]:
    stats = generate(tmp_path / "vendzz.db", rows=300, seed=7, clean=True)
    copy(stats.path, pg_url, tmp_path / "work")
    plan = make_plan(tmp_path, stats.path, pg_url, service_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield World(plan, conn, pg_url, tmp_path)


def switched(world: World, *, unfrozen: bool = True) -> None:
    """The journal of a cutover that switched to PostgreSQL (capture on PostgreSQL included)."""
    journal = open_journal(world.plan, world.pg)
    for step in CUTOVER_STEPS:
        journal.record(step, "done")
    (world.tmp / "on-pg").touch()
    capture.install(world.plan.source, DEFAULT_SKIP)  # the cutover's SQLite capture, still on
    rollback.on_switch(world.plan)
    if unfrozen:
        journal.record("unfreeze", "done")
    assert open_journal(world.plan, world.pg).state() == ("live-on-pg" if unfrozen else "switched")


def pg_era_writes(pg: psycopg.Connection[Any]) -> dict[str, Any]:
    """Inserts, updates, deletes, a row created then deleted, a key deleted then reused."""
    quiz = pg.execute("SELECT min(id) FROM quizzes").fetchone()
    template = pg.execute(
        'INSERT INTO quiz_templates (name, structure, "createdAt") VALUES'
        " ('pg era', '{\"a\": [1]}', '2026-05-01T10:00:00Z') RETURNING id"
    ).fetchone()
    assert quiz is not None and template is not None
    pg.execute("UPDATE quizzes SET title = 'changed on pg' WHERE id = %s", quiz)
    pg.execute("INSERT INTO quiz_templates (name, structure) VALUES ('tmp', '[]')")
    pg.execute("DELETE FROM quiz_templates WHERE name = 'tmp'")
    gone = pg.execute(
        "DELETE FROM lessons WHERE id = (SELECT min(id) FROM lessons) RETURNING *"
    ).fetchone()
    assert gone is not None
    pg.execute(
        "INSERT INTO lessons SELECT * FROM jsonb_populate_record(NULL::lessons, %s)",
        (json.dumps({**_lesson(pg, gone), "title": "reused key"}),),
    )
    pg.execute("DELETE FROM sms_logs WHERE id IN (SELECT id FROM sms_logs LIMIT 2)")
    # a table without a key (carried whole): one row deleted, one updated, one added
    pg.execute("DELETE FROM extension_pings WHERE ctid = (SELECT min(ctid) FROM extension_pings)")
    pg.execute(
        "UPDATE extension_pings SET status = 'pg era' WHERE ctid ="
        " (SELECT max(ctid) FROM extension_pings)"
    )
    pg.execute(
        "INSERT INTO extension_pings (user_id, version, status, pending_count,"
        " created_at) VALUES ('u-pg', '9.9', 'new', 3, '2026-05-01T10:00:00Z')"
    )
    return {"quiz": quiz[0], "template": template[0], "lesson": gone[0]}


def _lesson(pg: psycopg.Connection[Any], row: tuple[Any, ...]) -> dict[str, Any]:
    cur = pg.execute("SELECT * FROM lessons LIMIT 0")
    names = [d.name for d in cur.description or ()]
    return {
        n: (v.isoformat() if isinstance(v, datetime) else v)
        for n, v in zip(names, row, strict=True)
    }


def lite(world: World, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(world.plan.source) as conn:
        return conn.execute(sql, params).fetchall()


def assert_rolled_back(world: World, keys: dict[str, Any]) -> None:
    assert lite(world, "SELECT title FROM quizzes WHERE id = ?", (keys["quiz"],)) == [
        ("changed on pg",)
    ]
    assert lite(
        world,
        "SELECT name, structure, createdAt FROM quiz_templates WHERE id = ?",
        (keys["template"],),
    ) == [("pg era", '{"a":[1]}', int(datetime(2026, 5, 1, 10, tzinfo=UTC).timestamp()))]
    assert lite(world, "SELECT count(*) FROM quiz_templates WHERE name = 'tmp'") == [(0,)]
    assert lite(world, "SELECT title FROM lessons WHERE id = ?", (keys["lesson"],)) == [
        ("reused key",)
    ]
    assert lite(
        world,
        "SELECT version, pending_count, created_at FROM extension_pings WHERE user_id = 'u-pg'",
    ) == [("9.9", 3, int(datetime(2026, 5, 1, 10, tzinfo=UTC).timestamp()))]
    assert lite(world, "SELECT count(*) FROM extension_pings WHERE status = 'pg era'") == [(1,)]
    for table in ("quizzes", "quiz_templates", "lessons", "sms_logs", "extension_pings"):
        pg_count = world.pg.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
        assert lite(world, f"SELECT count(*) FROM {table}") == [pg_count], table
    assert open_journal(world.plan, world.pg).state() == "rolled-back"
    assert not world.flag("on-pg") and not world.flag("frozen")
    assert pg_capture.installed(world.pg) == []
    with sqlite3.connect(world.plan.source) as conn:
        assert capture.leftovers(conn) == []  # both captures off


def test_rollback_carries_the_postgres_era_back(world: World) -> None:
    switched(world)
    keys = pg_era_writes(world.pg)
    before = lite(world, "SELECT * FROM quizzes ORDER BY id")
    dry = rollback.rollback(world.plan, dry_run=True)
    assert dry.dry_run and dry.changed_keys["quiz_templates"] == 2
    assert dry.changed_keys["lessons"] == 1 and dry.expected_freeze_seconds
    assert lite(world, "SELECT * FROM quizzes ORDER BY id") == before  # nothing touched
    report = rollback.rollback(world.plan)
    assert report.mode == "rollback" and list(report.steps_run) == list(rollback.STEPS)
    assert report.deleted["sms_logs"] == 2 and report.deleted["extension_pings"] == 2
    assert report.written["extension_pings"] == 2
    assert report.freeze_seconds is not None and report.freeze_seconds > 0
    assert_rolled_back(world, keys)
    again = rollback.rollback(world.plan)  # idempotent once done
    assert again.mode == "nothing"


def test_rollback_before_the_unfreeze_is_a_rollback_too(world: World) -> None:
    switched(world, unfrozen=False)
    report = rollback.rollback(world.plan)
    assert report.mode == "rollback" and not world.flag("on-pg")


def test_rollback_before_the_switch_is_the_abort(world: World) -> None:
    journal = open_journal(world.plan, world.pg)
    for step in ("preflight", "capture-on", "copy", "freeze"):
        journal.record(step, "done")
    (world.tmp / "frozen").touch()
    report = rollback.rollback(world.plan)
    assert report.mode == "abort" and not world.flag("frozen")
    assert open_journal(world.plan, world.pg).state() == "aborted"


def test_unfit_rows_stop_before_the_freeze_or_the_switch_back(world: World) -> None:
    switched(world)
    quiz = world.pg.execute("SELECT min(id) FROM quizzes").fetchone()
    assert quiz is not None
    world.pg.execute(
        'UPDATE quizzes SET "updatedAt" = %s WHERE id = %s',
        (datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=UTC), quiz[0]),
    )
    with pytest.raises(rollback.UnfitRows) as caught:
        rollback.rollback(world.plan)
    assert caught.value.exit_code == ExitCode.REJECTS
    report = caught.value.data["report"]
    assert [(u.table, u.key, u.column) for u in report.unfit] == [
        ("quizzes", {"id": quiz[0]}, "updatedAt")
    ]
    # found by the catch-up: no freeze yet, the service still on PostgreSQL
    assert not world.flag("frozen") and world.flag("on-pg")
    # the operator fixes the row on PostgreSQL and runs --rollback again
    world.pg.execute('UPDATE quizzes SET "updatedAt" = date_trunc(\'second\', "updatedAt")')
    done = rollback.rollback(world.plan)
    assert done.mode == "rollback" and not world.flag("frozen") and not world.flag("on-pg")


def test_finish_removes_the_capture_and_forbids_a_rollback(world: World) -> None:
    switched(world)
    report = rollback.finish(world.plan)
    assert "quizzes" in report.pg_capture_removed and pg_capture.installed(world.pg) == []
    with pytest.raises(StateError, match="finished"):
        rollback.rollback(world.plan)


_KILLER = """
import os, signal, sys
from pathlib import Path
from vendzz_migrate.cutover import plan as plans, reverse_sync, rollback

step = sys.argv[2]
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if step == "reverse-sync-middle":  # after two of the batches of 3 keys are written
    real, calls = reverse_sync._write, []
    def write(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            die()
    reverse_sync._write = write
else:  # the step's work done, its end not yet journaled
    name = "step_" + step.replace("-", "_")
    real_step = getattr(rollback._Run, name)
    def killed(self):
        real_step(self)
        die()
    setattr(rollback._Run, name, killed)
plan = plans.parse(__import__("json").loads(Path(sys.argv[1]).read_text()))
rollback.rollback(plan)
"""


@pytest.mark.parametrize("step", [*rollback.STEPS, "reverse-sync-middle"])
def test_kill_9_inside_each_step_then_rollback_again(world: World, step: str) -> None:
    switched(world)
    keys = pg_era_writes(world.pg)
    plan_file = world.tmp / "plan.json"
    plan_file.write_text(world.plan.model_dump_json(by_alias=True))
    done = subprocess.run(
        [sys.executable, "-c", _KILLER, str(plan_file), step],
        capture_output=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert open_journal(world.plan, world.pg).state() != "rolled-back"
    report = rollback.rollback(world.plan)
    assert report.mode == "rollback"
    assert_rolled_back(world, keys)


def test_cli_rollback_dry_run_unfit_exit_8_then_rollback(world: World) -> None:
    import yaml
    from typer.testing import CliRunner

    from vendzz_migrate.cli import app

    switched(world)
    plan_file = world.tmp / "cutover.yaml"
    plan_file.write_text(yaml.safe_dump(world.plan.model_dump(mode="json", by_alias=True)))
    runner = CliRunner()
    world.pg.execute(
        'UPDATE quizzes SET "updatedAt" = now() WHERE id = (SELECT min(id) FROM quizzes)'
    )  # microseconds in an epoch column
    dry = runner.invoke(app, ["cutover", "--plan", str(plan_file), "--rollback", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would carry 1 changed key(s)" in dry.output
    unfit = runner.invoke(app, ["cutover", "--plan", str(plan_file), "--rollback"])
    assert unfit.exit_code == ExitCode.REJECTS, unfit.output
    assert "cannot go back into SQLite" in unfit.output and "Traceback" not in unfit.output
    world.pg.execute('UPDATE quizzes SET "updatedAt" = date_trunc(\'second\', "updatedAt")')
    done = runner.invoke(app, ["cutover", "--plan", str(plan_file), "--rollback"])
    assert done.exit_code == 0, done.output
    assert "rolled back rb" in done.output
    finish = runner.invoke(app, ["cutover", "--plan", str(plan_file), "--finish"])
    assert finish.exit_code == ExitCode.STATE, finish.output  # rolled back: nothing to finish
