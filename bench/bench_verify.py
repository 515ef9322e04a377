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
    python bench/bench_verify.py --rounds 5   # rounds: copy, then the modes (default 3)

The machine is shared and noisy: each round compares with its own copy, and the targets are
judged on the median of the rounds' ratios (the best is printed too).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
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
from vendzz_migrate.pg import qualified
from vendzz_migrate.sample import generate
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.state.store import Store
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import Kind, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import VerifyOptions, lite, pgcanon, pgside
from vendzz_migrate.verify import run as verify_run
from vendzz_migrate.verify import spec as specs
from vendzz_migrate.verify.model import Mode

ROWS = int(os.environ.get("VENDZZ_BENCH_ROWS", "510000"))
DB = os.environ.get("VENDZZ_BENCH_DB", "vzbench_verify")
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
    Kind.TEXT: str,
    Kind.INTEGER: int,
    Kind.FLOAT: float,
    Kind.DECIMAL: Decimal,
    Kind.BOOLEAN: lambda t: t == "t",
    Kind.TIMESTAMP: datetime.fromisoformat,
    Kind.JSON: json.loads,
    Kind.BYTES: lambda t: bytes.fromhex(t[2:]),
}


def _canonical_table(conn: Any, pg: psycopg.Connection, spec: specs.Spec) -> int:
    exprs = [
        pgcanon.value_sql(c.target, t) for c, t in zip(spec.columns, spec.pg_types, strict=True)
    ]
    target: dict[Any, tuple[Any, ...]] = {}
    with pg.cursor() as cur:
        cur.execute(f"SELECT {', '.join(exprs)} FROM {qualified('public', spec.target)}".encode())
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


MODES: tuple[tuple[str, Mode, int | None, float], ...] = (  # label, mode, workers, target
    ("verify --mode checksum", "checksum", None, 0.5),
    ("  ... with --workers 1", "checksum", 1, 0.5),
    ("verify --mode full", "full", None, 1.0),
)


def _fresh_db() -> str:
    with psycopg.connect(_server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    return _db_url(DB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="copy + verify rounds; each "
        "round times the copy into a fresh database, then the verify modes",
    )
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {label: [] for label, *_ in MODES}
    with tempfile.TemporaryDirectory(prefix="vzbench-verify-") as tmp:
        work = Path(tmp)
        source = _source(work)
        try:
            for round_ in range(1, args.rounds + 1):
                url = _fresh_db()
                report, copy_s = _timed(
                    f"round {round_}: copy",
                    functools.partial(
                        copy_run,
                        CopyOptions(
                            source=source,
                            target_url=url,
                            work_dir=work / f"work{round_}",
                            workers=2,
                        ),
                    ),
                )
                rows = report.total.source_rows
                line = [f"round {round_}: copy {copy_s:6.2f}s"]
                for label, mode, workers, _ in MODES:
                    options: dict[str, Any] = {"workers": workers} if workers else {}
                    found, secs = _timed(
                        f"round {round_}: {label.strip()}",
                        functools.partial(
                            verify_run,
                            VerifyOptions(source=source, target_url=url, mode=mode, **options),
                        ),
                    )
                    assert found.ok, "a clean copy must verify clean"
                    ratios[label].append(secs / copy_s)
                    line.append(
                        f"{label.strip().replace('verify ', '')} {secs:5.2f}s"
                        f" ({secs / copy_s:.2f}x)"
                    )
                print("; ".join(line), flush=True)
            differing, naive_s = _timed(
                "naive fetch-everything compare", lambda: naive(source, url)
            )
            canon_diff, canon_s = _timed(
                "fetch-everything compare, canonical", lambda: naive(source, url, canonical=True)
            )
        finally:
            with psycopg.connect(_server_url(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    print(
        f"rows: {rows:,} ({len(report.tables)} tables); naive found {differing} differing"
        f" rows, canonical fetch-all {canon_diff}"
    )
    print(
        f"(default workers: {VerifyOptions(source=source, target_url=url).workers};"
        f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'vs the copy of the same round':32} {'best':>6} {'median':>7}  target (median)")
    for label, _, _, target in MODES:
        best, median = min(ratios[label]), statistics.median(ratios[label])
        print(
            f"{label:32} {best:5.2f}x {median:6.2f}x  < {target}x:"
            f" {'met' if median < target else 'MISSED'}"
        )
    print(
        f"naive compare {naive_s:.2f}s, canonical fetch-all {canon_s:.2f}s (last round's"
        f" copy {copy_s:.2f}s): checksum and full vs naive, median:"
        f" {statistics.median(ratios[MODES[0][0]]) * copy_s / naive_s:.2f}x and"
        f" {statistics.median(ratios[MODES[2][0]]) * copy_s / naive_s:.2f}x"
    )


if __name__ == "__main__":
    main()
