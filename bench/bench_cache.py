"""Benchmark warm-cache (not a test; timings never gate anything).

Creates >= 300k rows whose JSON value is about 300 bytes in PostgreSQL (``DATABASE_URL`` or
127.0.0.1), then in the same run and against the same throwaway redis-server:

1. ``warm-cache`` end to end (reading PostgreSQL included) -> keys/s;
2. ``redis-cli --pipe`` from a prepared RESP file of the same keys, values and TTLs -> keys/s;
3. ``warm-cache`` against a throwaway 3-master Redis Cluster -> keys/s;

and prints the ratio warm-cache / redis-cli --pipe (target >= 0.6).

    python bench/bench_cache.py            # VENDZZ_BENCH_ROWS=300000, VENDZZ_BENCH_ROUNDS=3
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from vendzz_migrate.cache import load_spec, warm
from vendzz_migrate.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("VENDZZ_BENCH_ROWS", "300000"))
ROUNDS = int(os.environ.get("VENDZZ_BENCH_ROUNDS", "3"))
DB = "vzbench_cache"
SPEC = """\
version: 1
defaults: {ttl_s: 3600, jitter_s: 300}  # batch_size: the default (5,000)
caches:
  - name: item
    key: "bench:item:{id}"
    query: SELECT * FROM "bench_items"
    encoding: json
"""
TABLE = """
CREATE TABLE "bench_items" (
  "id" text PRIMARY KEY, "title" text NOT NULL, "userId" text NOT NULL,
  "isPublished" boolean NOT NULL, "views" bigint NOT NULL, "settings" jsonb, "createdAt" timestamptz
);
INSERT INTO "bench_items"
SELECT 'q' || lpad(g::text, 8, '0'), 'Quiz number ' || g, 'u' || (g % 5000), g % 3 <> 0, g * 7,
       jsonb_build_object('theme', 'dark', 'lang', 'pt-BR',
                          'pixels', jsonb_build_array('fb', 'ga4'),
                          'note', repeat(chr(97 + g % 26), 120)),
       timestamptz '2025-07-21 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {rows}) AS g;
ANALYZE "bench_items";
"""


def _servers_module() -> object:
    path = ROOT / "tests" / "cache" / "cache_servers.py"
    spec = importlib.util.spec_from_file_location("cache_servers", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["cache_servers"] = module
    spec.loader.exec_module(module)
    return module


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, ""))


def prepare_pg(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    url = _with_db(admin_url, DB)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE.format(rows=ROWS))  # type: ignore[call-overload]
        avg = conn.execute('SELECT avg(octet_length(row_to_json(b)::text)) FROM "bench_items" b')
        print(f"PostgreSQL: {ROWS:,} rows, average JSON value {float(avg.fetchone()[0]):.0f} bytes")
    return url


def prepare_pipe_file(pg_url: str, path: Path) -> int:
    """The same keys, values and TTLs as RESP SET commands (not timed)."""
    sql = (
        "SELECT 'bench:item:' || b.\"id\", row_to_json(b)::text, 3300 + floor(random() * 601)::int "
        'FROM "bench_items" b'
    )
    with psycopg.connect(pg_url) as conn, path.open("wb") as out:
        for key, value, ttl in conn.execute(sql):
            parts = [b"SET", key.encode(), value.encode(), b"EX", str(ttl).encode()]
            out.write(b"*5\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    return path.stat().st_size


def run_warm(pg_url: str, redis_url: str, spec_path: Path) -> float:
    settings = load_settings(database_url=pg_url, redis_url=redis_url)
    started = time.perf_counter()
    report = warm(settings, load_spec(spec_path))
    elapsed = time.perf_counter() - started
    assert report.keys == ROWS, report
    return ROWS / elapsed


def run_pipe(redis_cli: str, redis_url: str, resp_file: Path) -> float:
    port = str(urlsplit(redis_url).port)
    started = time.perf_counter()
    with resp_file.open("rb") as stdin:
        out = subprocess.run(
            [redis_cli, "-p", port, "--pipe"], stdin=stdin, capture_output=True, check=True
        )
    elapsed = time.perf_counter() - started
    assert f"errors: 0, replies: {ROWS}" in out.stdout.decode(), out.stdout
    return ROWS / elapsed


def main() -> None:
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    helper = _servers_module()
    servers = helper.Servers()  # type: ignore[attr-defined]
    redis_cli = helper.binary("redis-cli")  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="vzbench-cache-"))
    try:
        pg_url = prepare_pg(admin)
        spec_path = work / "bench.yaml"
        spec_path.write_text(SPEC)
        resp = work / "bench.resp"
        size = prepare_pipe_file(pg_url, resp)
        print(f"redis-cli --pipe input: {size / 1e6:,.1f} MB of RESP")
        url = servers.standalone()
        client = redis.Redis.from_url(url)
        warm_rates, pipe_rates = [], []
        for i in range(ROUNDS):
            client.flushall()
            warm_rates.append(run_warm(pg_url, url, spec_path))
            client.flushall()
            pipe_rates.append(run_pipe(redis_cli, url, resp))
            print(f"round {i + 1}: warm-cache {warm_rates[-1]:,.0f} keys/s, "
                  f"redis-cli --pipe {pipe_rates[-1]:,.0f} keys/s")  # fmt: skip
        best_warm, best_pipe = max(warm_rates), max(pipe_rates)
        mid_warm, mid_pipe = statistics.median(warm_rates), statistics.median(pipe_rates)
        ratio = best_warm / best_pipe
        print(f"standalone, best of {ROUNDS}: warm-cache {best_warm:,.0f} keys/s (PostgreSQL read "
              f"included), redis-cli --pipe {best_pipe:,.0f} keys/s, ratio {ratio:.2f}x "
              "(target >= 0.60x)")  # fmt: skip
        print(f"standalone, medians: warm-cache {mid_warm:,.0f} keys/s, redis-cli --pipe "
              f"{mid_pipe:,.0f} keys/s, ratio {mid_warm / mid_pipe:.2f}x")  # fmt: skip
        nodes = servers.cluster(3)
        cluster_rate = run_warm(pg_url, nodes[0], spec_path)
        print(f"cluster (3 masters): warm-cache {cluster_rate:,.0f} keys/s "
              "(redis-cli --pipe cannot follow cluster redirects)")  # fmt: skip
    finally:
        servers.stop()
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
