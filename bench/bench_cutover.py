"""Benchmark the cutover (not a test; timings never gate anything).

On one generated clean Vendzz file (``--rows``, default 1,000,000, seed 5, cached in bench/out/),
in the same run, against the PostgreSQL at ``DATABASE_URL`` (else 127.0.0.1), each round in a
throwaway database:

1. delta sync vs copy: the copy's rows/s (sqlite-to-pg with the capture on) next to the delta
   sync's changed keys/s after ``--changed`` (1 %) of the rows were updated; ratio delta / copy;
2. the write-freeze window: a whole cutover of the reference service with its writer client
   running, ``--changed`` of the rows changed after the initial copy: (2a) right after it, so
   the catch-up applies and verifies them before the freeze, as a real run does; (2b) at the
   postpone point, so that all of them land in the freeze (final delta + verify of every one):
   the worst case; target under 5 s;
3. the triggers' cost on the service's write endpoint (POST /api/quizzes/{id}/responses):
   p50/p99 over ``--requests`` sequential writes without and with the capture triggers,
   alternated per round; ratio with / without.

Medians over ``--rounds``. The machine is shared: report ``uptime`` with the figures.

    python bench/bench_cutover.py                          # 1M rows, 1 %, 3 rounds
    python bench/bench_cutover.py --rows 200000 --rounds 2 --only delta,triggers
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vendzz_migrate.copy.run import CopyOptions  # noqa: E402
from vendzz_migrate.copy.run import run as copy_run  # noqa: E402
from vendzz_migrate.cutover import capture, delta, engine  # noqa: E402
from vendzz_migrate.cutover.journal import FROZEN_STEPS, open_journal  # noqa: E402
from vendzz_migrate.cutover.rehearsal import plan_for  # noqa: E402
from vendzz_migrate.net import free_port  # noqa: E402
from vendzz_migrate.sample import generate  # noqa: E402
from vendzz_migrate.source import introspect as insp  # noqa: E402
from vendzz_migrate.source import snapshot  # noqa: E402
from vendzz_migrate.state.store import Store  # noqa: E402

OUT = ROOT / "bench" / "out"


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def database() -> Iterator[str]:
    name = f"bench_cutover_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url())
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sample(rows: int) -> Path:
    path = OUT / f"cutover-{rows}.db"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} rows into {path} (once)", file=sys.stderr)
        generate(path, rows=rows, seed=5, clean=True)
    return path


def change(source: Path, fraction: float) -> int:
    """Update ``fraction`` of every table's rows (by rowid stride); returns rows changed."""
    import sqlite3

    conn = sqlite3.connect(source, timeout=30)
    total = 0
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
                " AND name NOT LIKE '\\_%' ESCAPE '\\'"
            )
        ]
        stride = max(1, round(1 / fraction))
        for t in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")') if not r[5]]
            if not cols:
                continue
            c = cols[-1]
            cur = conn.execute(f'UPDATE "{t}" SET "{c}" = "{c}" WHERE rowid % ? = 0', (stride,))
            total += cur.rowcount
        conn.commit()
    finally:
        conn.close()
    return total


def fig_delta(rows: int, fraction: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-cutover-"))
    try:
        source = work / "live.db"
        shutil.copyfile(sample(rows), source)
        capture.install(source, insp.DEFAULT_SKIP)
        with database() as url:
            report = copy_run(CopyOptions(source=source, target_url=url, work_dir=work, workers=2))
            copy_rps = report.total.copied_rows / report.seconds
            with psycopg.connect(url, autocommit=True) as conn:
                run = Store(conn).active_run("public")
                assert run is not None
                lite = snapshot.open_snapshot(Path(run.snapshot))
                mark = capture.high_water(lite)
                lite.close()
                changed = change(source, fraction)
                delta.ensure_marks(conn, "vendzz_migrate")
                target = delta.target_for(conn, source, "public", "vendzz_migrate")
                rep = delta.sync(source, target, "bench", mark)
        return {
            "copy_rows_per_s": copy_rps,
            "delta_keys_per_s": rep.rows_per_second,
            "changed_rows": changed,
            "delta_keys": rep.keys,
            "delta_s": rep.seconds,
            "copy_s": report.seconds,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _ChangingEngine(engine.Engine):
    """``at == "copy"``: the changes are made right after the initial copy (the catch-up
    applies and verifies them before the freeze, as a real run does); ``at == "postpone"``:
    made at the postpone point, so that all of them wait for the freeze (the worst case)."""

    fraction = 0.01
    changed = 0
    at = "copy"

    def catch_up(self) -> dict[str, Any]:
        if self.at == "copy":
            type(self).changed = change(self.plan.source, self.fraction)
        return super().catch_up()

    def postpone(self) -> dict[str, Any]:
        if self.at == "postpone":
            type(self).changed = change(self.plan.source, self.fraction)
            return {"changed_rows": type(self).changed}
        return super().postpone()


def _service(work: Path, source: Path) -> tuple[Any, int]:
    """The reference service on ``source`` (no Redis), started from ``work``: its state, port."""
    from examples.service import ctl

    port = free_port()
    state = ctl.State(work / "service")
    env = {"DATABASE_URL": f"sqlite:///{source}", "PORT": str(port), "REDIS_URL": ""}
    ctl.start(state, env, timeout=60)
    return state, port


def fig_freeze(rows: int, fraction: float, at: str) -> dict[str, Any]:
    import threading

    from examples.service import ctl
    from examples.service.client import Writer, read_ack_log

    work = Path(tempfile.mkdtemp(prefix="bench-freeze-"))
    try:
        source = work / "vendzz-live.db"
        shutil.copyfile(sample(rows), source)
        with database() as url:
            state, port = _service(work, source)
            ack = work / "acked.txt"
            writer = Writer(
                f"http://127.0.0.1:{port}",
                rate=20,
                ack_log=ack,
                duration_s=3600,
                max_retry_s=120,
                seed=2,
            )
            thread = threading.Thread(target=writer.run, daemon=True)
            thread.start()
            try:
                plan = plan_for(work, source, url, port)
                plan.watch.seconds = 0
                plan.budgets.max_freeze_seconds = 600  # measure it, do not abort on it
                _ChangingEngine.fraction = fraction
                _ChangingEngine.at = at
                with psycopg.connect(url, autocommit=True) as conn:
                    journal = open_journal(plan, conn)
                    _ChangingEngine(plan, conn, journal).run()
                    report = engine.report_of(plan, journal)
                    final = journal.figures("final-delta")
                    verified = journal.figures("verify-changed")
                    steps = _step_seconds(journal)
            finally:
                writer.stop()
                thread.join(timeout=180)
                ctl.stop(state, timeout=30)
            acked = read_ack_log(ack)
            with psycopg.connect(url) as conn:
                ids = {str(r[0]) for r in conn.execute("SELECT id FROM quiz_responses")}
        return {
            "freeze_s": report.freeze_seconds or float("nan"),
            "changed_rows": _ChangingEngine.changed,
            "final_delta_keys": final.get("keys", 0),
            "verified_keys": verified.get("keys", 0),
            "acked": len(acked),
            "missing": len(set(acked) - ids),
            "steps": steps,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


FREEZE_STEPS = ("freeze", *FROZEN_STEPS, "unfreeze")


def _step_seconds(journal: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    started: dict[str, float] = {}
    for e in journal.entries():
        if e.outcome == "started":
            started[e.step] = e.at
        elif e.outcome == "done" and e.step in FREEZE_STEPS and e.step in started:
            out[e.step] = round(e.at - started[e.step], 3)
    return out


def _latencies(base: str, n: int, quiz: str) -> list[float]:
    import httpx

    from examples.service.client import _answer

    rnd = random.Random(9)
    out = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(n):
            body = _answer(i, rnd)
            t0 = time.perf_counter()
            resp = client.post(f"/api/quizzes/{quiz}/responses", json=body)
            out.append(time.perf_counter() - t0)
            if resp.status_code != 201:
                raise SystemExit(f"write failed: {resp.status_code} {resp.text[:200]}")
    return out


def fig_triggers(rows: int, requests: int, rounds: int) -> dict[str, float]:
    import httpx

    from examples.service import ctl

    work = Path(tempfile.mkdtemp(prefix="bench-trig-"))
    try:
        source = work / "vendzz.db"
        shutil.copyfile(sample(min(rows, 200_000)), source)
        state, port = _service(work, source)
        base = f"http://127.0.0.1:{port}"
        try:
            quiz = httpx.get(f"{base}/api/quizzes?limit=1&published=1").json()["ids"][0]
            _latencies(base, 50, quiz)  # warm up
            without: list[float] = []
            with_: list[float] = []
            for _ in range(rounds):
                without += _latencies(base, requests, quiz)
                capture.install(source, insp.DEFAULT_SKIP)
                with_ += _latencies(base, requests, quiz)
                capture.remove(source)
        finally:
            ctl.stop(state, timeout=30)
        return {
            "p50_without_ms": _pct(without, 50),
            "p99_without_ms": _pct(without, 99),
            "p50_with_ms": _pct(with_, 50),
            "p99_with_ms": _pct(with_, 99),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--changed", type=float, default=0.01, help="fraction of rows changed")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--only", default="delta,freeze,triggers")
    args = ap.parse_args()
    only = set(args.only.split(","))
    print(f"load: {os.getloadavg()} (shared machine: noisy figures)")
    if "delta" in only:
        runs = [fig_delta(args.rows, args.changed) for _ in range(args.rounds)]
        c, d = _median(runs, "copy_rows_per_s"), _median(runs, "delta_keys_per_s")
        print(
            f"1. copy {c:,.0f} rows/s; delta sync {d:,.0f} changed keys/s "
            f"({_median(runs, 'delta_keys'):,.0f} keys in {_median(runs, 'delta_s'):.2f}s); "
            f"ratio delta/copy {d / c:.2f}  [median of {args.rounds}]"
        )
    if "freeze" in only:
        for at, what in (
            ("copy", "changed after the copy, caught up before the freeze"),
            ("postpone", "changed at the postpone point: all of it in the freeze"),
        ):
            runs = [fig_freeze(args.rows, args.changed, at) for _ in range(args.rounds)]
            print(
                f"2{'ab'[at == 'postpone']}. write freeze {_median(runs, 'freeze_s'):.2f}s "
                f"(budget 5s), {_median(runs, 'changed_rows'):,.0f} rows {what}, writer "
                f"running; per round: {[round(r['freeze_s'], 2) for r in runs]}; acked "
                f"{[r['acked'] for r in runs]}, missing {[r['missing'] for r in runs]}"
            )
            for r in runs:
                print(
                    f"   freeze steps (s): {r['steps']}; final delta {r['final_delta_keys']}"
                    f" keys, verified in the freeze {r['verified_keys']} keys"
                )
    if "triggers" in only:
        r = fig_triggers(args.rows, args.requests, args.rounds)
        print(
            f"3. write endpoint p50 {r['p50_without_ms']:.2f} -> {r['p50_with_ms']:.2f} ms "
            f"({r['p50_with_ms'] / r['p50_without_ms']:.2f}x), p99 {r['p99_without_ms']:.2f} "
            f"-> {r['p99_with_ms']:.2f} ms ({r['p99_with_ms'] / r['p99_without_ms']:.2f}x) "
            f"without -> with the capture triggers ({args.requests} x {args.rounds} writes "
            "each)"
        )
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
