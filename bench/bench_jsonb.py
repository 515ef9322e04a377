"""Benchmark jsonb's canonical text: verify's in-process printers against PostgreSQL's own jsonb.

Not a test; timings never gate anything. On the JSON values of one generated clean Vendzz file
(``VENDZZ_BENCH_ROWS``, default 50000 rows), in one run, per value:

1. ``reference``: :func:`vendzz_migrate.verify.canon.column_canon` (the copier's conversion,
   then ``canon.jsonb_canon``, pure Python);
2. ``fast tier``: :func:`vendzz_migrate.verify.fast.column_fast` (what verify runs for a value
   outside SQLite's pieces: its fast tier, falling back to the reference);
3. ``PostgreSQL``: the other design (#13): the values' converted texts sent to the server by
   COPY into a temporary table and printed by ``t::jsonb::text``, no jsonb reimplementation
   (the copier's conversion, which unwraps double-encoded documents, still runs in Python:
   ``(convert only)`` times that part alone).

Each result is checked against the reference (mismatches are printed); times are medians over
the rounds, with the ratio of each to the PostgreSQL design measured in the same round.

    python bench/bench_jsonb.py               # VENDZZ_BENCH_ROWS=50000
    python bench/bench_jsonb.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from vendzz_migrate.copy import plan as planner
from vendzz_migrate.sample import generate
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import qi
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap.convert import Conversion, Kind, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import canon, fast, lite

ROWS = int(os.environ.get("VENDZZ_BENCH_ROWS", "50000"))
Values = list[tuple[Conversion, bytes]]


def _values(path: Path) -> Values:
    conn = lite.open_source(path)
    try:
        schema = insp.introspect(conn)
        mapping = inferrer.infer(conn, schema, source="bench")
        out: Values = []
        for name, plan in planner.build(mapping, schema).items():
            for col in plan.columns:
                if col.conversion.kind is not Kind.JSON:
                    continue
                sql = (
                    f"SELECT CAST({qi(col.source)} AS BLOB) FROM {qi(name)}"
                    f" WHERE typeof({qi(col.source)}) = 'text'"
                )
                out += [(col.conversion, v) for (v,) in conn.execute(sql)]
        return out
    finally:
        conn.close()


def _reference(values: Values) -> list[str | None]:
    out: list[str | None] = []
    for conv, value in values:
        try:
            out.append(canon.column_canon(conv)(Raw("text", value)))
        except Reject:
            out.append(None)
    return out


def _fast(values: Values) -> list[str | None]:
    canons = {id(conv): fast.column_fast(conv) for conv in {id(c): c for c, _ in values}.values()}
    out: list[str | None] = []
    for conv, value in values:
        try:
            found = canons[id(conv)](b"text", value)
        except Reject:
            found = None
        out.append(None if found is None else found.decode("utf-8"))
    return out


def _converted(values: Values) -> list[str | None]:
    """The copier's conversion alone (the Python part of the PostgreSQL design)."""
    texts: list[str | None] = []
    for conv, value in values:
        try:
            texts.append(conv.convert(Raw("text", value)))
        except Reject:
            texts.append(None)
    return texts


def _postgres(values: Values) -> list[str | None]:
    """The converted texts COPY'd into a temporary table, printed by jsonb itself."""
    texts = _converted(values)
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("CREATE TEMP TABLE vz_jsonb (n integer, t text)")
        with pg.cursor() as cur, cur.copy("COPY vz_jsonb (n, t) FROM STDIN") as copy:
            for i, text in enumerate(texts):
                if text is not None and "\x00" not in text:
                    copy.write_row((i, text))
        found: list[str | None] = [None] * len(texts)
        with pg.cursor() as cur:
            cur.execute("SELECT n, t::jsonb::text FROM vz_jsonb")
            for n, text in cur:
                found[n] = text
        return found


def _timed(
    fn: Callable[[Values], list[str | None]], values: Values
) -> tuple[list[str | None], float]:
    started = time.perf_counter()
    out = fn(values)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vz-bench-jsonb-") as tmp:
        path = Path(tmp) / "bench.db"
        generate(path, rows=ROWS, seed=7, clean=True, force=True)
        values = _values(path)
    print(
        f"{len(values):,} JSON values from a {ROWS:,}-row sample; C extension built:"
        f" {fast._speed is not None}; load: {os.getloadavg()[0]:.2f}"
    )
    designs = {
        "reference": _reference,
        "fast tier": _fast,
        "PostgreSQL": _postgres,
        "(convert only)": _converted,
    }
    times: dict[str, list[float]] = {name: [] for name in designs}
    ratios: dict[str, list[float]] = {name: [] for name in designs}
    for _ in range(args.rounds):
        expected, _ = _timed(_reference, values)
        round_times = {}
        for name, fn in designs.items():
            found, seconds = _timed(fn, values)
            if name == "(convert only)":
                round_times[name] = seconds
                continue
            wrong = sum(1 for a, b in zip(found, expected, strict=True) if a != b)
            if wrong:
                print(f"{name}: {wrong} values differ from the reference", file=sys.stderr)
            round_times[name] = seconds
        for name, seconds in round_times.items():
            times[name].append(seconds)
            ratios[name].append(seconds / round_times["PostgreSQL"])
    for name in designs:
        per_value = statistics.median(times[name]) / len(values) * 1e6
        print(
            f"{name:>14}: {per_value:7.2f} us/value"
            f"  ({statistics.median(ratios[name]):.2f}x the PostgreSQL design)"
        )


if __name__ == "__main__":
    main()
