"""Benchmark verify (not a test; timings never gate anything).

On one clean generated Vendzz file of >= 500k rows (``VENDZZ_BENCH_ROWS``), in one run and
against the same PostgreSQL (``DATABASE_URL`` or 127.0.0.1), times:

1. the copy itself (``vendzz_migrate.copy.run.run``);
2. ``verify --mode checksum`` (default workers: CPUs, at most 4), then with ``--workers 1``;
3. ``verify --mode full``;
4. a naive compare: fetch every row of both databases (the same canonical values, no hashing
   on the server) and compare them in Python, table by table;

and prints the ratios (targets: checksum < 0.5x copy, full < 1x copy, both faster than naive).

    python bench/bench_verify.py     # VENDZZ_BENCH_ROWS=510000 (lands just over 500k rows)
    VENDZZ_BENCH_SOURCE=big.db python bench/bench_verify.py   # reuse a generated file
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg

from vendzz_migrate.copy import plan as planner
from vendzz_migrate.copy.run import CopyOptions
from vendzz_migrate.copy.run import run as copy_run
from vendzz_migrate.sample import generate
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.state.store import Store
from vendzz_migrate.target.ddl import qualified
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import Kind, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import VerifyOptions, lite, pgcanon, pgside
from vendzz_migrate.verify import run as verify_run
from vendzz_migrate.verify import spec as specs

ROWS = int(os.environ.get("VENDZZ_BENCH_ROWS", "510000"))
DB = "vzbench_verify"
T = TypeVar("T")


def _server_url() -> str:
    return os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _db_url(name: str) -> str:
    parts = urlsplit(_server_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _timed(label: str, fn: Callable[[], T]) -> tuple[T, float]:
    print(f"{label} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = fn()
    seconds = time.monotonic() - started
    print(f"{label}: {seconds:.2f}s", file=sys.stderr, flush=True)
    return result, seconds


def _source(work: Path) -> Path:
    given = os.environ.get("VENDZZ_BENCH_SOURCE")
    if given:
        return Path(given)
    path = work / "bench.db"
    stats = generate(path, rows=ROWS, seed=7, clean=True, force=True)
    print(f"generated {sum(stats.tables.values()):,} rows in {path}", file=sys.stderr)
    return path


def naive(source: Path, url: str, *, canonical: bool = False) -> int:
    """Fetch every row of both sides and compare them in Python; returns differing rows.

    Plain (the naive baseline): ``SELECT *`` as psycopg's Python objects (dict for jsonb,
    datetime, Decimal, bool...) against the SQLite values run through the copier's reference
    conversions and parsed to the same objects. ``canonical``: both sides already in verify's
    canonical text (PostgreSQL computes it), compared without hashing."""
    conn = lite.open_source(source)
    pg = pgside.open_target(url)
    try:
        prior = Store(pg).active_run("public")
        assert prior is not None
        mapping = maps.parse(prior.mapping)
        plans = planner.build(mapping, insp.introspect(conn))
        differing = 0
        for name, plan in plans.items():
            types = pgside.table_types(pg, "public", plan.target)
            spec = specs.build(plan, types, mapping.tables[name].primary_key, frozenset())
            differing += (_canonical_table if canonical else _plain_table)(conn, pg, spec)
        return differing
    finally:
        conn.close()
        pg.close()


def _plain_table(conn: Any, pg: psycopg.Connection, spec: specs.Spec) -> int:
    cols = ", ".join(f'"{c.target}"' for c in spec.columns)
    target: dict[Any, tuple[Any, ...]] = {}
    with pg.cursor() as cur:
        cur.execute(f"SELECT {cols} FROM {qualified('public', spec.target)}".encode())
        for i, row in enumerate(cur):
            target[tuple(row[p] for p in spec.key_pos) if spec.key_pos else i] = tuple(row)
    parsers = [_PARSE[c.conversion.kind] for c in spec.columns]
    differing = 0
    for i, row in enumerate(conn.execute(lite._select(spec, "1", ordered=False))):
        values = []
        for j, (col, parse) in enumerate(zip(spec.columns, parsers, strict=True)):
            value = row[2 + 2 * j]
            raw = Raw(row[1 + 2 * j].decode(), value)
            try:
                values.append(None if value is None else parse(col.conversion.convert(raw)))
            except Reject:
                values.append(Reject)
        key = tuple(values[p] for p in spec.key_pos) if spec.key_pos else i
        differing += target.pop(key, None) != tuple(values)
    return differing + len(target)


_PARSE: dict[Kind, Callable[[str], Any]] = {
    Kind.TEXT: str, Kind.INTEGER: int, Kind.FLOAT: float, Kind.DECIMAL: Decimal,
    Kind.BOOLEAN: lambda t: t == "t", Kind.TIMESTAMP: datetime.fromisoformat,
    Kind.JSON: json.loads, Kind.BYTES: lambda t: bytes.fromhex(t[2:]),
}


def _canonical_table(conn: Any, pg: psycopg.Connection, spec: specs.Spec) -> int:
    exprs = [pgcanon.value_sql(c.target, t) for c, t in zip(spec.columns, spec.pg_types,
                                                             strict=True)]
    target: dict[Any, tuple[Any, ...]] = {}
    with pg.cursor() as cur:
        cur.execute(f"SELECT {', '.join(exprs)} FROM {qualified('public', spec.target)}"
                    .encode())
        for i, row in enumerate(cur):
            target[tuple(row[p] for p in spec.key_pos) if spec.key_pos else i] = tuple(row)
    differing = 0
    for i, row in enumerate(conn.execute(lite._select(spec, "1", ordered=False))):
        found, failure = lite.canonical(spec, row)
        if failure:
            differing += 1
            continue
        values = tuple(None if v is None else v.decode() for v in found)
        key = tuple(values[p] for p in spec.key_pos) if spec.key_pos else i
        differing += target.pop(key, None) != values
    return differing + len(target)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vzbench-verify-") as tmp:
        work = Path(tmp)
        source = _source(work)
        with psycopg.connect(_server_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB}"')
        url = _db_url(DB)
        try:
            report, copy_s = _timed("copy", lambda: copy_run(CopyOptions(
                source=source, target_url=url, work_dir=work / "work", workers=2)))
            rows = report.total.source_rows
            checksum, checksum_s = _timed("verify --mode checksum", lambda: verify_run(
                VerifyOptions(source=source, target_url=url, mode="checksum")))
            full, full_s = _timed("verify --mode full", lambda: verify_run(
                VerifyOptions(source=source, target_url=url, mode="full")))
            _, one_s = _timed("verify --mode checksum --workers 1", lambda: verify_run(
                VerifyOptions(source=source, target_url=url, mode="checksum", workers=1)))
            differing, naive_s = _timed("naive fetch-everything compare",
                                        lambda: naive(source, url))
            canon_diff, canon_s = _timed("fetch-everything compare, canonical",
                                         lambda: naive(source, url, canonical=True))
        finally:
            with psycopg.connect(_server_url(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    assert checksum.ok and full.ok, "a clean copy must verify clean"
    print(f"rows: {rows:,} ({len(report.tables)} tables); naive found {differing} differing"
          f" rows, canonical fetch-all {canon_diff}")
    print(f"copy                 {copy_s:8.2f}s  {rows / copy_s:10,.0f} rows/s")
    print(f"(default workers: {VerifyOptions(source=source, target_url=url).workers};"
          f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})")
    for label, secs, target in (("verify --mode checksum", checksum_s, 0.5),
                                ("  ... with --workers 1", one_s, 0.5),
                                ("verify --mode full", full_s, 1.0),
                                ("naive compare", naive_s, None),
                                ("fetch-all, canonical", canon_s, None)):
        goal = f"  (target < {target}x copy: {'met' if secs / copy_s < target else 'MISSED'})" \
            if target else ""
        print(f"{label:22} {secs:8.2f}s  {secs / copy_s:5.2f}x copy  "
              f"{secs / naive_s:5.2f}x naive{goal}")


if __name__ == "__main__":
    main()
