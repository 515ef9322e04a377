"""Benchmark cutover --rollback (not a test; timings never gate anything).

Per round: a generated Vendzz file (``VENDZZ_BENCH_ROWS`` responses, clean) copied into a
throwaway database of the PostgreSQL at ``DATABASE_URL`` or 127.0.0.1; a cutover journal up to
the switch with the PostgreSQL capture on (``rollback.on_switch``); a writer thread that makes
``VENDZZ_BENCH_WRITES`` (10,000) writes on PostgreSQL (new responses, updated quizzes, deleted
responses, a key deleted and reused) and KEEPS writing until the freeze flag appears; then

1. ``rollback(plan)`` with the writer running: its freeze window (freeze hook -> unfreeze hook)
   and the reverse sync's rows/s (changed keys carried back per second);
2. the reference, by hand: ``psql \\copy`` of the same changed rows to CSV, then
   ``sqlite3 .import`` of the CSV into a scratch table of a copy of the file (no conversion,
   no deletes, no verify: a lower bound of moving those rows at all);

and prints the medians and the ratio reverse sync / reference (target: freeze under 5 s).

    python bench/bench_rollback.py     # VENDZZ_BENCH_ROWS=20000 VENDZZ_BENCH_WRITES=10000 ROUNDS=3
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vendzz_migrate.copy.run import CopyOptions  # noqa: E402
from vendzz_migrate.copy.run import run as copy_run  # noqa: E402
from vendzz_migrate.cutover import rollback  # noqa: E402
from vendzz_migrate.cutover.journal import open_journal  # noqa: E402
from vendzz_migrate.cutover.plan import CutoverPlan, parse  # noqa: E402
from vendzz_migrate.errors import RejectsError  # noqa: E402
from vendzz_migrate.sample import generate  # noqa: E402

ROWS = int(os.environ.get("VENDZZ_BENCH_ROWS", "20000"))
WRITES = int(os.environ.get("VENDZZ_BENCH_WRITES", "10000"))
ROUNDS = int(os.environ.get("VENDZZ_BENCH_ROUNDS", "3"))
SERVER = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        return


class Writer(threading.Thread):
    """Writes on PostgreSQL until the freeze flag appears (checked before each write)."""

    def __init__(self, url: str, frozen: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.frozen = url, frozen
        self.count = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as pg:
            quizzes = [r[0] for r in pg.execute("SELECT id FROM quizzes").fetchall()]
            olds = [r[0] for r in pg.execute("SELECT id FROM quiz_responses").fetchall()]
            try:
                while not self.frozen.exists():
                    self._one(pg, quizzes, olds)
            except psycopg.Error as exc:
                self.errors.append(repr(exc))

    def _one(self, pg: psycopg.Connection[Any], quizzes: list[str], olds: list[str]) -> None:
        n = self.count
        self.count += 1
        if n % 10 == 9 and olds:  # a deleted response
            pg.execute("DELETE FROM quiz_responses WHERE id = %s", (olds.pop(),))
        elif n % 10 == 8:  # an updated quiz
            pg.execute(
                "UPDATE quizzes SET title = %s WHERE id = %s",
                (f"title {n}", quizzes[n % len(quizzes)]),
            )
        else:  # a new response, the service's way (whole seconds)
            pg.execute(
                'INSERT INTO quiz_responses (id, "quizId", responses, metadata, "submittedAt")'
                " VALUES (%s, %s, %s, %s, date_trunc('second', now()))",
                (
                    uuid.uuid4().hex[:21],
                    quizzes[n % len(quizzes)],
                    '[{"elementId": "e1", "answer": "sim"}]',
                    '{"isComplete": true}',
                ),
            )


def plan_for(tmp: Path, source: Path, url: str, port: int) -> CutoverPlan:
    def flag(name: str, present: bool) -> dict[str, Any]:
        return {"file": {"path": str(tmp / name), "present": present}}

    return parse(
        {
            "name": "bench",
            "source": str(source),
            "database_url": url,
            "work_dir": str(tmp / "w"),
            "service": {"url": f"http://127.0.0.1:{port}"},
            "hooks": {
                "freeze": flag("frozen", True),
                "unfreeze": flag("frozen", False),
                "switch_to_pg": flag("on-pg", True),
                "switch_to_sqlite": flag("on-pg", False),
            },
        }
    )


def one_round(base: Path, port: int, i: int) -> tuple[float, float, float, int]:
    tmp = base / f"round{i}"
    tmp.mkdir()
    source = tmp / "vendzz.db"
    shutil.copy(base / "vendzz.db", source)
    name = f"vzbench_rollback_{os.getpid()}_{i}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = with_db(SERVER, name)
    try:
        with contextlib.suppress(RejectsError):  # clean sample: none expected
            copy_run(CopyOptions(source=source, target_url=url, work_dir=tmp / "work"))
        plan = plan_for(tmp, source, url, port)
        with psycopg.connect(url, autocommit=True) as pg:
            journal = open_journal(plan, pg)
            for step in ("capture-on", "copy", "freeze", "switch"):
                journal.record(step, "done")
            rollback.on_switch(plan)
            journal.record("unfreeze", "done")
        writer = Writer(url, tmp / "frozen")
        writer.start()
        while writer.count < WRITES and writer.is_alive():
            time.sleep(0.05)
        report = rollback.rollback(plan)  # the writer still writing until the freeze
        writer.join(30)
        if writer.errors:
            raise SystemExit(f"writer failed: {writer.errors[0]}")
        keys = sum(report.changed_keys.values())
        print(
            f"  round {i + 1} steps: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in step_seconds(plan, url).items()),
            flush=True,
        )
        reference = by_hand(url, source, tmp)
        assert report.freeze_seconds is not None and report.rows_per_second is not None
        return report.freeze_seconds, report.rows_per_second, keys / reference, writer.count
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def step_seconds(plan: CutoverPlan, url: str) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as pg:
        entries = open_journal(plan, pg).entries()
    started = {e.step: e.at for e in entries if e.outcome == "started"}
    return {
        e.step.removeprefix("rollback:"): e.at - started[e.step]
        for e in entries
        if e.outcome == "done" and e.step in started and e.step.startswith("rollback:")
    }


def by_hand(url: str, source: Path, tmp: Path) -> float:
    """psql \\copy of every changed row to CSV, sqlite3 .import into a scratch table."""
    scratch = tmp / "scratch.db"
    shutil.copy(source, scratch)
    csv = tmp / "changed.csv"
    query = (
        "SELECT r.* FROM quiz_responses r WHERE r.id IN (SELECT key->>'id' FROM"
        " vendzz_migrate.pg_changes WHERE table_name = 'quiz_responses')"
    )
    started = time.perf_counter()
    subprocess.run(["psql", url, "-q", "-c", f"\\copy ({query}) TO '{csv}' CSV"], check=True)
    subprocess.run(
        [
            "sqlite3",
            str(scratch),
            "CREATE TABLE changed AS SELECT * FROM quiz_responses WHERE 0",
            ".import --csv " + str(csv) + " changed",
        ],
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vzbench-rollback-") as tmp_name:
        base = Path(tmp_name)
        generate(base / "vendzz.db", rows=ROWS, seed=11, clean=True)
        with sqlite3.connect(base / "vendzz.db") as conn:  # a cutover refuses keyless tables
            conn.execute("DROP TABLE extension_pings")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rounds copy the main file
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        results = [one_round(base, server.server_address[1], i) for i in range(ROUNDS)]
        server.shutdown()
    freeze = statistics.median(r[0] for r in results)
    ours = statistics.median(r[1] for r in results)
    ref = statistics.median(r[2] for r in results)
    writes = statistics.median(r[3] for r in results)
    load = os.getloadavg()
    print(
        f"rollback after {writes:.0f} writes on PostgreSQL (median of {ROUNDS} rounds, "
        f"{ROWS} sample rows; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}: noisy)"
    )
    print(
        f"  freeze window (writer running): {freeze:.2f} s   target < 5 s: "
        f"{'ok' if freeze < 5 else 'MISSED'}"
    )
    print(
        f"  reverse sync: {ours:,.0f} keys/s; by hand (psql \\copy | sqlite3 .import, no "
        f"conversion): {ref:,.0f} rows/s; ratio {ours / ref:.2f}"
    )
    for i, (f, o, r, w) in enumerate(results):
        print(
            f"  round {i + 1}: freeze {f:.2f} s, reverse sync {o:,.0f} keys/s, "
            f"by hand {r:,.0f} rows/s, {w} writes"
        )


if __name__ == "__main__":
    main()
