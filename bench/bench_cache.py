"""Benchmark warm-cache on real Vendzz rows (not a test; timings never gate anything).

Rows come from a file made by ``vendzz-migrate sample`` (clean, seed 1; cached in
``bench/out/``) copied to PostgreSQL with ``vendzz-migrate sqlite-to-pg`` (``DATABASE_URL`` or
127.0.0.1, database ``vzbench_cache``, recreated). Two workloads, each against the same
throwaway redis-server (no persistence), ``--rounds`` times, interleaved:

* ``spec``: the shipped spec (every cache) over the Vendzz tables it reads, each table grown
  to about ``--keys-per-cache`` keys by copying its rows with a suffixed id (schema
  ``scaled``; quiz_analytics dates moved into the last 30 days so that cache has rows);
* ``largest``: a JSON cache over the largest table of the file (by bytes; quiz_responses).

Per workload and round: ``warm-cache`` keys/s (its own report: planning and the PostgreSQL read
included), then the two references writing exactly the commands warm-cache sends (rendered by
the same frame query; EVALSHA scripts loaded first):

1. ``redis-cli --pipe`` from a prepared RESP file;
2. ``psql | redis-cli --pipe``: psql prints the same RESP straight from PostgreSQL (unaligned,
   tuples only, ``FETCH_COUNT``), the tools' own pipeline. (``COPY ... TO STDOUT`` cannot carry
   RESP: text and CSV COPY escape or quote the CR/LF, binary COPY adds per-row headers.)

Then medians, ratios (target: warm-cache >= 0.6x redis-cli --pipe), ``uptime`` before and
after, and where the CPU goes (CPU seconds per key of warm-cache's Python process, run as a
child so the /proc watcher is not counted, its PostgreSQL backends and redis-server, from /proc
and INFO cpu: a load-independent profile), with the ceiling that CPU puts on keys/s when every
core of the machine works for warm-cache alone (cores / CPU seconds per key).

    python bench/bench_cache.py                   # 400k-row file, 5 rounds, 20k keys per cache
    python bench/bench_cache.py --rounds 7 --keys-per-cache 50000 --cluster
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from vendzz_migrate.cache import WarmOptions, load_spec, query, warm
from vendzz_migrate.cache.redis_io import REPLACE_HASH
from vendzz_migrate.cache.spec import CacheSpec
from vendzz_migrate.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DB = "vzbench_cache"
SCALED = "scaled"
TICK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT))
from tests.cache.cache_servers import Servers, binary  # noqa: E402


@dataclass
class Workload:
    name: str
    spec_path: Path
    schema: str
    keys: int = 0
    resp: Path | None = None
    sql: list[str] = field(default_factory=list)  # the frame queries, for psql
    shape: str = ""
    hash_caches: bool = False
    rates: dict[str, list[float]] = field(default_factory=dict)


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, ""))


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "vendzz_migrate", "-q", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def prepare_pg(admin: str, rows: int) -> str:
    """The sample file (cached) copied into a fresh database; returns its URL."""
    OUT.mkdir(exist_ok=True)
    source = OUT / f"cache-clean-{rows}-s1.db"
    if not source.exists():
        _cli("sample", str(source), "--rows", str(rows), "--seed", "1", "--clean", "--force")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    url = _with_db(admin, DB)
    work = Path(tempfile.mkdtemp(prefix="vzbench-cache-copy-"))
    try:
        _cli("sqlite-to-pg", str(source), "--target", url, "--work-dir", str(work),
             "--workers", "2")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return url


def largest_table(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = "
            "'public'::regnamespace ORDER BY pg_relation_size(oid) DESC LIMIT 1"
        ).fetchone()
    assert row
    return str(row[0])


def scale_tables(url: str, spec: CacheSpec, keys_per_cache: int) -> None:
    """Schema ``scaled``: each table the spec requires, its rows copied with suffixed ids up to
    about ``keys_per_cache`` rows (every other column as the sample wrote it)."""
    tables = sorted({t for c in spec.caches for t in c.requires})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCALED} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCALED}")
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", [f'public."{table}"']).fetchone() == (None,):
                continue
            count = conn.execute(f'SELECT count(*) FROM public."{table}"').fetchone()[0]  # type: ignore[index]
            copies = max(1, -(-keys_per_cache // max(count, 1)))
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'public' AND table_name = %s ORDER BY ordinal_position",
                    [table],
                )
            ]
            select = ", ".join(_scaled_column(table, c) for c in columns)
            source = f'public."{table}" AS t, generate_series(1, {copies}) AS g'
            if table == "quiz_analytics":
                source += ', (SELECT max("date") AS d FROM public."quiz_analytics") AS last'
            conn.execute(f'CREATE TABLE {SCALED}."{table}" AS SELECT {select} FROM {source}')  # type: ignore[arg-type]
            conn.execute(f'ANALYZE {SCALED}."{table}"')  # type: ignore[arg-type]


def _scaled_column(table: str, column: str) -> str:
    quoted = f'"{column}"'
    if column == "id" or (table == "quiz_analytics" and column == "quizId"):
        return f"t.{quoted} || '~' || g AS {quoted}"
    if table == "quiz_analytics" and column == "date":  # the sample's days, ending today
        return (
            f"to_char(t.{quoted}::date + (current_date - last.d::date), 'YYYY-MM-DD') AS {quoted}"
        )
    return f"t.{quoted}"


def prepare_refs(w: Workload, pg_url: str, work: Path) -> None:
    """Render warm-cache's own commands into a RESP file and psql's queries (not timed)."""
    spec = load_spec(w.spec_path)
    settings = load_settings(database_url=pg_url, schema_name=w.schema)
    conn = query.connect(settings, raw=False)
    sha = hashlib.sha1(REPLACE_HASH.encode()).hexdigest()
    w.resp = work / f"{w.name}.resp"
    sizes: list[int] = []
    try:
        with w.resp.open("wb") as out:
            for cache in spec.caches:
                if query.missing_tables(conn, w.schema, cache.requires):
                    continue
                columns = query.probe(conn, cache)
                frames = query.frame_query(spec, cache, columns, sha).as_string(conn)
                w.sql.append(f"SELECT left(f.frame, -1) FROM ({frames}) AS f(k, frame)")
                w.hash_caches |= cache.encoding == "hash"
                for _key, frame in conn.execute(frames):  # type: ignore[call-overload]
                    data = frame.encode()
                    sizes.append(len(data))
                    out.write(data)
                conn.rollback()
    finally:
        conn.close()
    w.keys = len(sizes)
    w.shape += f"{w.keys:,} keys, {statistics.mean(sizes):,.0f} B per command on average"


def run_warm(w: Workload, pg_url: str, redis_url: str) -> float:
    settings = load_settings(database_url=pg_url, redis_url=redis_url, schema_name=w.schema)
    report = warm(WarmOptions.from_settings(settings, spec=load_spec(w.spec_path)))
    assert report.keys == w.keys, (report.keys, w.keys)
    return report.keys_per_s


def _pipe(cli: str, port: str, stdin: object, keys: int) -> None:
    out = subprocess.run([cli, "-p", port, "--pipe"], stdin=stdin, capture_output=True, check=True)
    assert f"errors: 0, replies: {keys}" in out.stdout.decode(), out.stdout[-300:]


def run_pipe(w: Workload, redis_url: str) -> float:
    cli, port = binary("redis-cli"), str(urlsplit(redis_url).port)
    assert cli and w.resp
    started = time.perf_counter()
    with w.resp.open("rb") as stdin:
        _pipe(cli, port, stdin, w.keys)
    return w.keys / (time.perf_counter() - started)


def run_psql_pipe(w: Workload, pg_url: str, redis_url: str) -> float:
    cli, psql = binary("redis-cli"), shutil.which("psql")
    assert cli and psql
    args = [psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-v", "FETCH_COUNT=5000"]
    args += ["-d", pg_url, "-c", f"SET search_path TO {w.schema}; SET TimeZone TO 'UTC'"]
    for sql in w.sql:
        args += ["-c", sql]
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    started = time.perf_counter()
    producer = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
    try:
        _pipe(cli, str(urlsplit(redis_url).port), producer.stdout, w.keys)
    finally:
        assert producer.wait(60) == 0
    return w.keys / (time.perf_counter() - started)


def _fresh(client: redis.Redis, w: Workload) -> None:
    client.flushall()
    if w.hash_caches:  # the references send EVALSHA: the script must be there
        client.script_load(REPLACE_HASH)


_CHILD = """
import json, resource, sys
from pathlib import Path
from vendzz_migrate.cache import WarmOptions, load_spec, warm
from vendzz_migrate.settings import load_settings
pg_url, redis_url, schema, spec = sys.argv[1:]
settings = load_settings(database_url=pg_url, redis_url=redis_url, schema_name=schema)
spec = load_spec(Path(spec))
before = resource.getrusage(resource.RUSAGE_SELF)
report = warm(WarmOptions.from_settings(settings, spec=spec))
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps([report.keys, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime]))
"""


def cpu_profile(w: Workload, pg_url: str, redis_url: str, ref_rate: float) -> str:
    """One more warm-cache run, in a child process: CPU seconds per key of its Python process
    (warm() only), its PostgreSQL backends (/proc, read from here) and redis-server (INFO cpu),
    independent of the load; and the ceiling they put on keys/s with this machine's cores."""
    client = redis.Redis.from_url(redis_url)
    _fresh(client, w)
    db = urlsplit(pg_url).path.lstrip("/").encode()
    seen: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:  # backends of the bench database, read from /proc
        while not done.wait(0.02):
            for pid, cpu in _backends(db).items():
                seen[pid] = max(seen.get(pid, 0.0), cpu)

    before, redis0 = _backends(db), _redis_cpu(client)
    thread = threading.Thread(target=watch)
    thread.start()
    try:
        args = [pg_url, redis_url, w.schema, str(w.spec_path)]
        out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    finally:
        done.set()
        thread.join()
    redis1 = _redis_cpu(client)
    keys, user, sys_ = json.loads(out.splitlines()[-1])
    assert keys == w.keys, (keys, w.keys)
    pg = sum(cpu - before.get(pid, 0.0) for pid, cpu in seen.items())
    per = 1e6 / w.keys
    total = (pg + redis1 - redis0 + user + sys_) * per
    cores = os.cpu_count() or 1
    ceiling = cores / total * 1e6
    return (
        f"CPU per key: PostgreSQL backends {pg * per:.1f} us, redis-server "
        f"{(redis1 - redis0) * per:.1f} us, warm-cache Python {user * per:.1f} us user + "
        f"{sys_ * per:.1f} us sys; total {total:.1f} us: with all {cores} cores busy and "
        f"nothing else running, at most {ceiling:,.0f} keys/s = {ceiling / ref_rate:.2f}x the "
        "median redis-cli --pipe"
    )


def _backends(db: bytes) -> dict[int, float]:
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if db not in Path(f"/proc/{name}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(name)] = (int(fields[11]) + int(fields[12])) / TICK
    return found


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _uptime() -> str:
    return subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()


def _report(w: Workload) -> None:
    mid = {name: statistics.median(r) for name, r in w.rates.items()}
    n = len(w.rates["warm-cache"])
    print(f"\n[{w.name}] medians of {n} rounds ({w.shape}):")
    for name, rate in mid.items():
        print(f"  {name:<24} {rate:>10,.0f} keys/s")
    warm_rate = mid["warm-cache"]
    print(f"  warm-cache / redis-cli --pipe          {warm_rate / mid['redis-cli --pipe']:.2f}x "
          "(target >= 0.60x)")  # fmt: skip
    psql = mid["psql | redis-cli --pipe"]
    print(f"  warm-cache / psql | redis-cli --pipe   {warm_rate / psql:.2f}x")
    for ref in ("redis-cli --pipe", "psql | redis-cli --pipe"):  # paired: same round, same load
        ratios = [a / b for a, b in zip(w.rates["warm-cache"], w.rates[ref], strict=True)]
        print(f"  per-round ratios to {ref}: {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.2f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=400_000, help="rows of the sample file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys-per-cache", type=int, default=20_000)
    parser.add_argument("--cluster", action="store_true", help="also one run on a 3-master cluster")
    parser.add_argument("--no-profile", action="store_true", help="skip the CPU profile run")
    opts = parser.parse_args()
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    servers = Servers()
    work = Path(tempfile.mkdtemp(prefix="vzbench-cache-"))
    try:
        print(f"before: {_uptime()}")
        pg_url = prepare_pg(admin, opts.rows)
        table = largest_table(pg_url)
        spec_path = work / "largest.yaml"
        spec_path.write_text(
            f"version: 1\ncaches:\n  - name: {table.replace('_', '-')}\n"
            f'    key: "bench:{table}:{{id}}"\n    query: SELECT * FROM "{table}"\n'
            "    encoding: json\n"
        )
        default = ROOT / "vendzz_migrate" / "cache" / "specs" / "vendzz.yaml"
        scale_tables(pg_url, load_spec(default), opts.keys_per_cache)
        workloads = [
            Workload("spec", default, SCALED, shape="shipped spec, scaled tables: "),
            Workload("largest", spec_path, "public", shape=f"JSON cache over {table}: "),
        ]
        for w in workloads:
            prepare_refs(w, pg_url, work)
            print(f"{w.name}: {w.shape}; RESP file {w.resp.stat().st_size / 1e6:,.1f} MB")  # type: ignore[union-attr]
        url = servers.standalone()
        client = redis.Redis.from_url(url)
        runs = {
            "warm-cache": lambda w: run_warm(w, pg_url, url),
            "redis-cli --pipe": lambda w: run_pipe(w, url),
            "psql | redis-cli --pipe": lambda w: run_psql_pipe(w, pg_url, url),
        }
        for i in range(opts.rounds):
            for w in workloads:
                line = []
                for name, run in runs.items():
                    _fresh(client, w)
                    w.rates.setdefault(name, []).append(run(w))
                    line.append(f"{name} {w.rates[name][-1]:,.0f}")
                print(f"round {i + 1} [{w.name}]: " + ", ".join(line) + " keys/s")
        for w in workloads:
            _report(w)
            if not opts.no_profile:
                print(
                    "  "
                    + cpu_profile(w, pg_url, url, statistics.median(w.rates["redis-cli --pipe"]))
                )
        if opts.cluster:
            nodes = servers.cluster(3)
            for w in workloads:
                rate = run_warm(w, pg_url, nodes[0])
                print(f"[{w.name}] cluster (3 masters): warm-cache {rate:,.0f} keys/s")
        print(f"\nafter: {_uptime()}")
        print("The machine is shared: these figures are noisy; compare ratios of the same round.")
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
