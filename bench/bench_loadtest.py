"""The spec's three load stages against the reference service, on SQLite and on PostgreSQL +
Redis: the before / after picture (the spec expects SQLite to collapse past ~50 users).

    python bench/bench_loadtest.py --rows 20000 --stage-duration 20s --workers 2 [--rounds 1]

Makes a clean sample file, copies it to a PostgreSQL database of its own (dropped at the end)
with `sqlite-to-pg`, starts a redis-server of its own, then runs `loadtest` (users 100, 500,
1000) against `python -m examples.service` on each backend in turn. Prints per stage the
figures of each backend and the ratio PostgreSQL+Redis / SQLite (the reference measured in the
same run), the median over rounds, the generator's CPU, and the machine's load (`uptime`).
The service is one uvicorn process: on a small shared machine the generator, the service and
PostgreSQL share the same cores, so these are figures of this machine, not of the design.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.examples.service.helpers import redis_server  # noqa: E402
from tests.support import free_port  # noqa: E402
from vendzz_migrate import loadtest  # noqa: E402
from vendzz_migrate.errors import TargetsMissed  # noqa: E402
from vendzz_migrate.monitor.durations import parse_duration  # noqa: E402

BASE_PG = os.environ.get("VENDZZ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def drop_database(dbname: str) -> None:
    import psycopg

    with psycopg.connect(BASE_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{url}: the service exited ({proc.returncode})") from None
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_service(database_url: str, redis_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.service"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", proc)
    return proc, url


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def run_backend(
    label: str, database_url: str, redis_url: str | None, args: argparse.Namespace
) -> list[loadtest.StageResult]:
    """One loadtest per stage (each ramps from zero), with the service process's CPU."""
    import psutil

    proc, url = start_service(database_url, redis_url)
    stages = []
    try:
        service = psutil.Process(proc.pid)
        for users in args.users:
            before, wall = service.cpu_times(), time.monotonic()
            options = loadtest.Options(
                url=url,
                users=(users,),
                stage_duration_s=parse_duration(args.stage_duration),
                workers=args.workers,
                profile="production-1000",
            )
            try:
                report = loadtest.run(options)
            except TargetsMissed as exc:  # a missed target is a figure of the benchmark
                report = exc.report
            after, wall = service.cpu_times(), time.monotonic() - wall
            cpu = 100 * (after.user + after.system - before.user - before.system) / wall
            (s,) = report.stages
            s.notes.append(f"service CPU {cpu:.0f} % of one core")
            stages.append(s)
            print(
                f"  {label:10} {s.users:>5} users: {s.requests:>7} req, p50 {s.p50_ms} ms, "
                f"p95 {s.p95_ms} ms, p99 {s.p99_ms} ms, {s.rps} req/s, errors "
                f"{s.error_rate * 100:.2f} %, gen. CPU {s.generator_cpu_pct} %, service CPU "
                f"{cpu:.0f} %" + (" SATURATED" if s.saturated else ""),
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(30)
    return stages


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def summary(results: dict[str, list[list[loadtest.StageResult]]], users: list[int]) -> None:
    print("\nmedian over rounds (PostgreSQL+Redis / SQLite ratio in brackets):")
    print(
        f"{'users':>6} | {'backend':10} | {'req/s':>8} | {'p50 ms':>8} | {'p95 ms':>8} | "
        f"{'p99 ms':>8} | {'errors %':>8} | {'gen CPU':>7} | saturated"
    )
    for i, n in enumerate(users):
        row: dict[str, dict[str, Any]] = {}
        for label, rounds in results.items():
            stages = [r[i] for r in rounds if i < len(r)]
            row[label] = {
                "rps": median([s.rps for s in stages]),
                "p50": median([s.p50_ms for s in stages]),
                "p95": median([s.p95_ms for s in stages]),
                "p99": median([s.p99_ms for s in stages]),
                "err": median([s.error_rate * 100 for s in stages]),
                "cpu": median([s.generator_cpu_pct for s in stages]),
                "sat": any(s.saturated for s in stages),
            }
        for label, m in row.items():
            print(
                f"{n:>6} | {label:10} | {m['rps'] or 0:>8.1f} | {m['p50'] or 0:>8.1f} | "
                f"{m['p95'] or 0:>8.1f} | {m['p99'] or 0:>8.1f} | {m['err'] or 0:>8.2f} | "
                f"{m['cpu'] or 0:>6.0f}% | {m['sat']}"
            )
        a, b = row.get("pg+redis"), row.get("sqlite")
        if a and b and b["rps"] and a["rps"] and b["p95"] and a["p95"]:
            print(
                f"{'':>6} | {'ratio':10} | {a['rps'] / b['rps']:>7.2f}x | {'':>8} | "
                f"{a['p95'] / b['p95']:>7.2f}x |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--stage-duration", default="20s")
    parser.add_argument(
        "--users", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000]
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    import psycopg

    from vendzz_migrate.sample import generate

    work = Path(tempfile.mkdtemp(prefix="vz-bench-lt-"))
    dbname = f"vz_bench_lt_{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        redis_url = stack.enter_context(redis_server(work / "redis"))
        db = work / "vendzz.db"
        generate(db, rows=args.rows, seed=7, clean=True)
        with psycopg.connect(BASE_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        stack.callback(drop_database, dbname)
        pg_url = with_db(BASE_PG, dbname)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vendzz_migrate",
                "-q",
                "sqlite-to-pg",
                str(db),
                "--target",
                pg_url,
                "--work-dir",
                str(work / "copy"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"load before: {uptime()}")
        results: dict[str, list[list[loadtest.StageResult]]] = {"sqlite": [], "pg+redis": []}
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            results["sqlite"].append(run_backend("sqlite", f"sqlite:///{db}", None, args))
            results["pg+redis"].append(run_backend("pg+redis", pg_url, redis_url, args))
        print(f"load after: {uptime()}")
        summary(results, args.users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
