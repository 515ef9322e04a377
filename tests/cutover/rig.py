"""A stand-in for the running service, for engine tests that need no real service: a writer
thread that honours a maintenance flag file (checked inside its SQLite write transaction, so
the sqlite-lock drain is exact), writes to PostgreSQL once switched, and a /health endpoint."""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.cutover.helpers import make_source


@dataclass
class Writer:
    source: Path
    pg_url: str
    frozen: Path
    on_pg: Path
    next_id: int = 100_000
    acked: list[int] = field(default_factory=list)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    max_writes: int = 20_000
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        lite = sqlite3.connect(self.source, timeout=30, isolation_level=None)
        pg: psycopg.Connection[Any] | None = None
        try:
            while not self.stop.is_set() and len(self.acked) < self.max_writes:
                if self.frozen.exists():
                    self.refused += 1
                    time.sleep(0.005)
                elif self.on_pg.exists():
                    pg = pg or psycopg.connect(self.pg_url, autocommit=True)
                    self._pg_write(pg)
                else:
                    self._lite_write(lite)
        except Exception as exc:
            self.errors.append(repr(exc))
        finally:
            lite.close()
            if pg is not None:
                pg.close()

    def _lite_write(self, lite: sqlite3.Connection) -> None:
        lite.execute("BEGIN IMMEDIATE")
        if self.frozen.exists() or self.on_pg.exists():  # 503: checked under the write lock
            lite.execute("ROLLBACK")
            return
        new = self.next_id
        lite.execute(
            "INSERT INTO quiz_responses VALUES (?, 'q1', '{\"w\": 1}', ?, NULL)", (new, new / 3)
        )
        lite.execute(
            "UPDATE quiz_responses SET score = score + 1 WHERE id = ?", (1 + new % 50,)
        )  # rows changing many times
        if new % 7 == 0:  # deleted and re-inserted
            lite.execute("DELETE FROM quiz_responses WHERE id = ?", (new - 3,))
            lite.execute("INSERT INTO quiz_responses VALUES (?, 'q2', NULL, 0, NULL)", (new - 3,))
        lite.execute("COMMIT")
        self.next_id += 1
        self.acked.append(new)
        time.sleep(0.002)

    def _pg_write(self, pg: psycopg.Connection[Any]) -> None:
        new = self.next_id
        pg.execute(
            "INSERT INTO quiz_responses (id, quiz_id, answers, score) VALUES"
            " (%s, 'q1', '{\"pg\": 1}', 0)",
            (new,),
        )
        self.next_id += 1
        self.acked.append(new)
        time.sleep(0.002)


class _Health(http.server.BaseHTTPRequestHandler):
    sick_on_pg: Path | None = None
    on_pg: Path | None = None

    def do_GET(self) -> None:
        sick = bool(
            self.sick_on_pg and self.sick_on_pg.exists() and self.on_pg and self.on_pg.exists()
        )
        body = json.dumps({"ok": not sick}).encode()
        self.send_response(500 if sick else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@dataclass
class Rig:
    dir: Path
    source: Path
    plan_path: Path
    writer: Writer
    sick: Path
    thread: threading.Thread

    def halt(self) -> None:
        """Stop the writer and wait for it: its last write is acknowledged (or not) before
        anything is compared."""
        self.writer.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()

    def journal_entries(self) -> list[dict[str, Any]]:
        """The local journal mirror's entries, oldest first."""
        path = self.dir / "work" / "cutover-t.journal.jsonl"
        if not path.exists():
            return []
        return [e for e in map(json.loads, path.read_text().splitlines()) if e]

    def journal_steps(self) -> list[tuple[str, str]]:
        return [(e["step"], e["outcome"]) for e in self.journal_entries()]

    def wait_acks(self, more_than: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.writer.acked) <= more_than and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.writer.acked) > more_than, "the writer made no progress"


def write_plan(dir: Path, source: Path, pg_url: str, port: int, **over: Any) -> Path:
    plan: dict[str, Any] = {
        "name": "t",
        "source": str(source),
        "database_url": pg_url,
        "work_dir": str(dir / "work"),
        "workers": 1,
        "service": {"url": f"http://127.0.0.1:{port}"},
        "hooks": {
            "freeze": {"file": {"path": str(dir / "frozen"), "present": True}},
            "unfreeze": {"file": {"path": str(dir / "frozen"), "present": False}},
            "switch_to_pg": {"file": {"path": str(dir / "on_pg"), "present": True}},
            "switch_to_sqlite": {"file": {"path": str(dir / "on_pg"), "present": False}},
            "drain": {"kind": "sqlite-lock"},
        },
        "smoke": [
            {"method": "GET", "path": "/health", "expect_status": 200, "body_contains": "ok"}
        ],
        "budgets": {"max_freeze_seconds": 120, "catchup_backlog_rows": 50},
        "watch": {"seconds": 0.3, "interval_seconds": 0.1},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(plan.get(key), dict):
            plan[key] = {**plan[key], **value}
        else:
            plan[key] = value
    path = dir / "cutover.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@contextmanager
def rig(dir: Path, pg_url: str, **over: Any) -> Iterator[Rig]:
    source = make_source(dir / "live.db", responses=2000)
    sick = dir / "sick"
    handler = type("H", (_Health,), {"sick_on_pg": sick, "on_pg": dir / "on_pg"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    plan = write_plan(dir, source, pg_url, server.server_address[1], **over)
    writer = Writer(source, pg_url, dir / "frozen", dir / "on_pg")
    writing = threading.Thread(target=writer.run, daemon=True)
    writing.start()
    the_rig = Rig(dir, source, plan, writer, sick, writing)
    try:
        the_rig.wait_acks(20)
        yield the_rig
    finally:
        writer.stop.set()
        writing.join(timeout=30)
        server.shutdown()
        server.server_close()
