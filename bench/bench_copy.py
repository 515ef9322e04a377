"""Benchmark sqlite-to-pg (not a test; timings never gate anything).

On one generated *clean* Vendzz file (``--rows``, default 500k, seed 1, cached in bench/out/),
in the same run and against the same PostgreSQL server, each in a fresh database:

(a)  the near-limit pipeline: per table ``sqlite3 -csv "SELECT ..." | psql -c "\\copy ... FROM
     STDIN (FORMAT csv)"`` into the CREATE TABLEs of vendzz-migrate's own dry run, timestamptz
     columns made ``bigint`` (the file holds epoch integers that CSV cannot turn into
     timestamptz); then the same post-load statements as the dry run (primary keys, unique
     and other indexes incl. the GIN on jsonb, foreign keys, the view) and ANALYZE.
(a2) the same pipeline, typed: sqlite3 runs vendzz-migrate's own fast-path SQL (each row
     formatted as a COPY text line by SQLite) into the exact vendzz-migrate schema.
(b)  pgloader on the same file, default settings.
(b2) pgloader, default settings, on a copy of the file without its expression index (on which
     pgloader 3.6.7 crashes at once).
(b3) the same as (b2) with ``--with "prefetch rows = 10000"`` (``--pgloader-with``): with its
     default 100,000 rows per queue pgloader 3.6.7 often exhausts its SBCL heap on this file
     and dies part-way; (b3) is the pgloader row that completes the full load.
(c)  vendzz-migrate as a subprocess (``--workers`` 1 and 2), peak RSS from wait4().

Then vendzz-migrate once on a file twice as large (RSS must not grow), and with ``--profile``
one py-spy profile of vendzz-migrate summarised as text.

    python bench/bench_copy.py                    # 500k rows, 2 rounds
    python bench/bench_copy.py --rows 200000 --rounds 3 --no-big --profile
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from vendzz_migrate.copy import plan as planner
from vendzz_migrate.copy.dryrun import dry_run
from vendzz_migrate.copy.run import CopyOptions
from vendzz_migrate.pg import ident, qualified
from vendzz_migrate.sample import generate
from vendzz_migrate.source import introspect, open_readonly, qi
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.typemap import infer
from vendzz_migrate.typemap.convert import Kind

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VM = str(Path(sys.executable).with_name("vendzz-migrate"))
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SCHEMA = "public"


# -- the file, the databases -----------------------------------------------------------------


def bench_file(rows: int) -> Path:
    path = OUT / f"clean-{rows}-s1.db"
    if not path.exists():
        started = time.monotonic()
        generate(path, rows=rows, seed=1, clean=True)
        print(f"generated {path.name} in {time.monotonic() - started:.1f}s", flush=True)
    return path


def db_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


def fresh_db(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)".encode())
        conn.execute(f"CREATE DATABASE {ident(name)}".encode())
    return db_url(admin_url, name)


def drop_db(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)".encode())


def source_counts(path: Path, plans: dict[str, TablePlan]) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {n: int(conn.execute(f"SELECT count(*) FROM {qi(n)}").fetchone()[0]) for n in plans}
    finally:
        conn.close()


def target_counts(url: str, names: dict[str, str]) -> dict[str, int]:
    """Rows per source table in the target (``names``: source -> target table); -1 if absent."""
    out: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for src, target in names.items():
            found = conn.execute("SELECT to_regclass(%s)", (qualified(SCHEMA, target),)).fetchone()
            if not found or found[0] is None:
                out[src] = -1
                continue
            row = conn.execute(
                f"SELECT count(*) FROM {qualified(SCHEMA, target)}".encode()
            ).fetchone()
            out[src] = int(row[0]) if row else -1
    return out


# -- the reference DDL: vendzz-migrate's own dry run -----------------------------------------


@dataclass
class Reference:
    plans: dict[str, TablePlan]
    tables: dict[str, str]  # target -> CREATE TABLE, exactly as the dry run prints it
    post: list[str]  # keys, indexes, foreign keys, views, as the dry run prints them
    epochs: dict[str, set[str]]  # target -> timestamp columns holding epoch integers


def reference(path: Path, url: str) -> Reference:
    lite = open_readonly(path)
    lite.text_factory = bytes
    try:
        schema = introspect.introspect(lite)
        plans = planner.build(infer.infer(lite, schema, source=str(path)), schema)
    finally:
        lite.close()
    report = dry_run(CopyOptions(source=path, target_url=url, dry_run=True))
    statements = [s.rstrip(";") for s in report.ddl if not s.startswith("--")]
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    heads = {p.target: f"CREATE TABLE {qualified(SCHEMA, p.target)} (" for p in plans.values()}
    tables = {t: next(c for c in creates if c.startswith(h)) for t, h in heads.items()}
    return Reference(
        plans, tables, [s for s in statements if s not in creates], epoch_columns(path, plans)
    )


def epoch_columns(path: Path, plans: dict[str, TablePlan]) -> dict[str, set[str]]:
    """Per target table, the timestamp columns whose values are integers in the file."""
    out: dict[str, set[str]] = {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for name, plan in plans.items():
            for col in plan.columns:
                if col.conversion.kind != Kind.TIMESTAMP:
                    continue
                hit = conn.execute(
                    f"SELECT 1 FROM {qi(name)} WHERE typeof({qi(col.source)}) = 'integer' LIMIT 1"
                ).fetchone()
                if hit:
                    out.setdefault(plan.target, set()).add(col.target)
    finally:
        conn.close()
    return out


_COL = re.compile(r'^(\s+)("(?:[^"]|"")+") timestamptz(?: DEFAULT \S+?)?( NOT NULL)?(,?)$')


def untimed(create: str, table: str, epochs: dict[str, set[str]]) -> str:
    """The CREATE TABLE with its epoch-integer timestamptz columns as bigint (CSV carries the
    integers as they are; PostgreSQL would refuse them as timestamptz)."""
    names = {ident(c) for c in epochs.get(table, set())}
    lines = []
    for line in create.splitlines():
        m = _COL.match(line)
        keep = not (m and m.group(2) in names)
        lines.append(
            line
            if keep or not m
            else f"{m.group(1)}{m.group(2)} bigint{m.group(3) or ''}{m.group(4)}"
        )
    return "\n".join(lines)


# -- (a) and (a2): sqlite3 | psql \copy ------------------------------------------------------


@dataclass
class Timing:
    tool: str
    seconds: float
    rows: int
    ok: bool = True
    data_s: float | None = None
    post_s: float | None = None
    rss_mb: float | None = None
    note: str = ""
    steps: dict[str, float] = field(default_factory=dict)


def _pipe(path: Path, lite_args: list[str], select: str, url: str, copy: str) -> None:
    """``sqlite3 -readonly -bail LITE_ARGS PATH SELECT | psql -c COPY`` into ``url``."""
    lite_cmd = ["sqlite3", "-readonly", "-bail", *lite_args, str(path), select]
    psql_cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", copy]
    with subprocess.Popen(lite_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as lite:
        psql = subprocess.run(psql_cmd, stdin=lite.stdout, capture_output=True, check=False)
        assert lite.stdout is not None and lite.stderr is not None
        lite.stdout.close()
        lite_err = lite.stderr.read()
    if lite.returncode or psql.returncode:
        raise RuntimeError(
            f"pipeline failed: sqlite3 rc={lite.returncode} "
            f"{lite_err.decode()[:300]} psql rc={psql.returncode} "
            f"{psql.stderr.decode()[:300]}"
        )


def csv_table(path: Path, url: str, plan: TablePlan) -> None:
    cols = ", ".join(qi(c.source) for c in plan.columns)
    targets = ", ".join(ident(c.target) for c in plan.columns)
    _pipe(
        path,
        ["-csv", "-noheader", "-newline", "\n"],
        f"SELECT {cols} FROM {qi(plan.table.name)}",
        url,
        f"\\copy {qualified(SCHEMA, plan.target)} ({targets}) FROM STDIN (FORMAT csv)",
    )


def typed_table(path: Path, url: str, plan: TablePlan) -> None:
    """vendzz-migrate's fast-path fields (SQLite formats and converts; no check of the
    values' form, no slow path) without Python; what vendzz-migrate's ``convert.finish_line``
    does per line in Python (backslashes doubled, the 0xFF NULL marks made \\N, newlines and
    CRs escaped) is done here by SQLite over the whole line (right for the clean bench file,
    whose values hold no tab, NUL or 0xFF byte)."""
    line = " || char(9) || ".join(c.conversion.field_sql(qi(c.source)) for c in plan.columns)
    line = (
        f"replace(replace(replace(replace({line}, '\\', '\\\\'), X'FF', '\\N'),"
        f" char(10), '\\n'), char(13), '\\r')"
    )
    targets = ", ".join(ident(c.target) for c in plan.columns)
    _pipe(
        path,
        ["-list", "-noheader"],
        f"SELECT {line} FROM {qi(plan.table.name)}",
        url,
        f"\\copy {qualified(SCHEMA, plan.target)} ({targets}) FROM STDIN",
    )


def run_reference(
    tool: str, path: Path, url: str, ref: Reference, counts: dict[str, int], jobs: int
) -> Timing:
    typed = tool.startswith("(a2)")
    copy_one: Callable[[Path, str, TablePlan], None] = typed_table if typed else csv_table
    order = sorted(ref.plans.values(), key=lambda p: -counts[p.table.name])
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for table, create in ref.tables.items():
            conn.execute((create if typed else untimed(create, table, ref.epochs)).encode())
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda p: copy_one(path, url, p), order))
        data_done = time.monotonic()
        for stmt in ref.post:
            conn.execute(stmt.encode())
        for plan in ref.plans.values():
            conn.execute(f"ANALYZE {qualified(SCHEMA, plan.target)}".encode())
    end = time.monotonic()
    got = target_counts(url, {n: p.target for n, p in ref.plans.items()})
    ok = got == counts
    return Timing(
        tool,
        end - started,
        sum(counts.values()),
        ok,
        data_done - started,
        end - data_done,
        note="" if ok else f"row counts differ: {got}",
    )


# -- (b) pgloader ----------------------------------------------------------------------------


def without_expression_indexes(path: Path) -> tuple[Path, list[str]]:
    """A copy of ``path`` minus its expression indexes (pgloader 3.6 crashes on them with
    'The value NIL is not of type PGLOADER.CATALOG:COLUMN'); cached next to the file."""
    copy = path.with_name(path.stem + "-noexpr.db")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT DISTINCT m.name FROM sqlite_master m, pragma_index_xinfo(m.name) x"
                " WHERE m.type = 'index' AND x.cid = -2 ORDER BY 1"
            )
        ]
    finally:
        conn.close()
    if not copy.exists():
        tmp = copy.with_suffix(".tmp")
        src, dst = sqlite3.connect(f"file:{path}?mode=ro", uri=True), sqlite3.connect(tmp)
        try:
            src.backup(dst)
            for name in names:
                dst.execute(f"DROP INDEX {qi(name)}")
            dst.execute("PRAGMA journal_mode = DELETE")
            dst.commit()
        finally:
            src.close()
            dst.close()
        tmp.replace(copy)
    return copy, names


# pgloader's Lisp error handler ("KABOOM!") and SBCL's own death (heap exhausted, then
# "fatal error encountered in SBCL ... GC invariant lost" and the ldb> prompt).
CRASHES = (b"KABOOM", b"Heap exhausted", b"fatal error encountered in SBCL")


@dataclass
class Watched:
    rc: int
    output: bytes
    crashed: float | None  # seconds to the first crash line, if any
    crash: str  # that line's marker
    rss_mb: float  # peak RSS from wait4()


def _watch(cmd: list[str], timeout_s: float) -> Watched:
    """Run ``cmd`` (stdin closed, output merged); kill it at once on a crash line (after a
    KABOOM pgloader never finishes: a thread may sit forever in an open COPY, which holds up
    DROP DATABASE ... WITH (FORCE) on the whole server; after a heap exhaustion the load is
    lost whether SBCL exits or not), and after ``timeout_s`` in any case (a silent hang)."""
    started = time.monotonic()
    chunks: list[bytes] = []
    crashed: float | None = None
    crash = ""
    with subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as proc:
        assert proc.stdout is not None
        # Not proc.kill(): its poll() could reap the child before wait4() gets its rusage.
        # The child is reaped only after ``exited`` is set, so kill() never hits a reused pid.
        lock, exited = threading.Lock(), threading.Event()

        def kill() -> None:
            with lock:
                if not exited.is_set():
                    os.kill(proc.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout_s, kill)  # also when it hangs silently
        watchdog.start()
        for line in proc.stdout:
            chunks.append(line)
            hit = next((m for m in CRASHES if m in line), None)
            if hit is not None and crashed is None:
                crashed, crash = time.monotonic() - started, hit.decode()
                time.sleep(1)  # let it print the condition, then stop it
                kill()
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        with lock:
            exited.set()
        watchdog.cancel()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
    if crashed is None and time.monotonic() - started >= timeout_s:
        chunks.append(b"TIMEOUT: killed\n")
    return Watched(rc, b"".join(chunks), crashed, crash, usage.ru_maxrss / 1024)


def run_pgloader(
    tool: str,
    path: Path,
    url: str,
    counts: dict[str, int],
    log: Path,
    timeout_s: float,
    with_: list[str] | None = None,
) -> Timing:
    """``pgloader [--with OPTION ...] sqlite://FILE URL``: pgloader's defaults (create tables,
    indexes, foreign keys, reset sequences) plus the given load options."""
    options = [a for w in with_ or [] for a in ("--with", w)]
    started = time.monotonic()
    watched = _watch(["pgloader", *options, f"sqlite://{path}", url], timeout_s)
    seconds = time.monotonic() - started
    rc, output, crashed = watched.rc, watched.output, watched.crashed
    log.write_bytes(output)
    got = target_counts(url, {n: n.lower() for n in counts})
    loaded = sum(max(v, 0) for v in got.values())
    short = {n: f"{got[n]}/{c}" for n, c in counts.items() if got[n] != c}
    errors = [
        ln for ln in output.decode(errors="replace").splitlines() if "ERROR" in ln or "FATAL" in ln
    ]
    ok = rc == 0 and not short
    note = f"rc={rc}, {loaded:,}/{sum(counts.values()):,} rows in PG"
    if short:
        note += f", {len(short)} of {len(counts)} tables short"
    if errors:
        note += f", {len(errors)} ERROR line(s), first: {errors[0][:200]}"
    if crashed is not None:
        seconds = crashed
        ok = False
        note += f", crashed ({watched.crash}) after {crashed:.1f}s and was killed, log {log.name}"
    elif with_:
        note += f", --with {'; '.join(with_)}"
    # rows/s of the rows that arrived
    return Timing(tool, seconds, loaded, ok, rss_mb=watched.rss_mb, note=note)


PGLOADER_B3 = "(b3) pgloader, no expr idx, tuned"
# (b3)'s load options (the remedy reported for the heap exhaustion: fewer rows in memory per
# reader thread).
# pgloader 3.6.7 (SBCL 2.2.9, Debian) with its defaults (4 workers, concurrency 1, prefetch
# rows 100000) died of "Heap exhausted" on the 500k no-expression-index file in 6 of 10 runs
# (peak RSS ~1.1 GB). Tried on that file (load average 1-6 from other users: the medians differ
# by less than the noise), every run complete unless said: prefetch rows 10000: 12/12 (incl.
# 4 bench rounds), median 6.7s in the trials, 400-510 MB RSS; 5000: 7/7, 7.8s; 2000: 4/4,
# 7.6s; 25000: 4/4, 7.3s, ~650 MB; workers 2 + prefetch 10000: 4/4, 7.5s;
# --dynamic-space-size 4096 alone: 8/8, 7.7s, ~1.2 GB; workers 2 + concurrency 1: crashed.
PGLOADER_WITH = ["prefetch rows = 10000"]


# -- (c) vendzz-migrate ----------------------------------------------------------------------

_STEP = re.compile(r"step (\d)/7 took ([\d.]+)s")


@functools.cache
def mapping_file(path: Path) -> Path:
    """``schema infer`` once per bench run (untimed; never reused from an earlier run, whose
    copier may have inferred otherwise): the mapping a user reviews before the real run."""
    out = OUT / f"{path.stem}-mapping.yaml"
    subprocess.run(
        [VM, "schema", "infer", str(path), "-o", str(out), "--force"],
        check=True,
        capture_output=True,
    )
    return out


def run_vendzz(
    path: Path,
    url: str,
    workers: int,
    counts: dict[str, int],
    tag: str,
    prefix: list[str] | None = None,
    mapping: Path | None = None,
) -> Timing:
    work = OUT / f"work-{tag}"
    shutil.rmtree(work, ignore_errors=True)
    report = OUT / f"report-{tag}.json"
    cmd = [
        *(prefix or []),
        VM,
        "-v",
        "sqlite-to-pg",
        str(path),
        "--target",
        url,
        "--work-dir",
        str(work),
        "--workers",
        str(workers),
        "--json",
        str(report),
        *(["--mapping", str(mapping)] if mapping else []),
    ]
    started = time.monotonic()
    with open(OUT / f"vendzz-{tag}.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    text = (OUT / f"vendzz-{tag}.log").read_text(errors="replace")
    steps = {f"step{n}": float(s) for n, s in _STEP.findall(text)}
    shutil.rmtree(work, ignore_errors=True)
    total = json.loads(report.read_text())["total"] if report.exists() else {}
    ok = proc.returncode == 0 and total.get("copied_rows") == sum(counts.values())
    tool = f"(c) vendzz-migrate -w{workers}" + (" --mapping" if mapping else "")
    data = steps.get("step4")
    post = sum(steps.get(f"step{n}", 0.0) for n in (5, 6, 7)) if steps else None
    note = "" if ok else f"rc={proc.returncode}, total={total}, see {log.name}"
    return Timing(
        tool, seconds, sum(counts.values()), ok, data, post, usage.ru_maxrss / 1024, note, steps
    )


# -- profile ---------------------------------------------------------------------------------


def profile(path: Path, admin_url: str, counts: dict[str, int], workers: int) -> None:
    url = fresh_db(admin_url, "vzbench_profile")
    raw = OUT / "profile.txt"
    prefix = [
        "py-spy",
        "record",
        "--format",
        "raw",
        "--rate",
        "200",
        "--threads",
        "--idle",
        "--native",
        "--subprocesses",
        "-o",
        str(raw),
        "--",
    ]  # the copy workers too
    try:
        t = run_vendzz(path, url, workers, counts, "profile", prefix)
    finally:
        drop_db(admin_url, "vzbench_profile")
    print(
        f"\nprofile of vendzz-migrate -w{workers} under py-spy ({t.seconds:.1f}s, "
        f"steps {t.steps}): {raw}"
    )
    summarise(raw)


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def _bucket(frames: list[str]) -> str:
    """Where one sample is: the innermost vendzz_migrate function, and what runs under it."""
    sites = [i for i, f in enumerate(frames) if "vendzz_migrate/" in f]
    if not sites:
        return "outside vendzz_migrate (interpreter start, imports, thread pool idle)"
    site, below = _short(frames[sites[-1]]), frames[sites[-1] + 1 :]
    if any("libsqlite3" in f for f in below):
        what = "SQLite engine (C)"
    elif any("_sqlite3" in f or "pysqlite" in f for f in below):
        what = "sqlite3 module: rows to Python objects (C)"
    elif any("psycopg" in f or "libpq" in f for f in below):
        what = (
            "waiting for PostgreSQL (poll/recv)"
            if any(f.startswith(("poll ", "recv ", "__poll", "wait_c")) for f in below)
            else "psycopg/libpq send"
        )
    elif any("gc_collect" in f for f in below):
        what = "Python GC"
    else:
        what = "Python"
    return f"{what:42} in {site}"


def summarise(raw: Path, top: int = 25) -> None:
    """Text summary of py-spy's collapsed stacks: by thread, by (what, where), top functions."""
    lines = [_frames(ln) for ln in raw.read_text().splitlines() if ln.strip()]
    total = sum(c for _, c in lines)
    threads: collections.Counter[str] = collections.Counter()
    workers: collections.Counter[str] = collections.Counter()
    main: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    for frames, count in lines:
        is_worker = any("copy_unit" in f for f in frames)
        threads[
            "copy worker (inside copy_unit)" if is_worker else re.sub(r"\(\d+\)", "", frames[0])
        ] += count
        (workers if is_worker else main)[_bucket(frames)] += count
        for name in {_short(f) for f in frames if "vendzz_migrate/" in f}:
            incl[name] += count
    print(f"{total} samples at 200 Hz, all threads of every process, idle included")
    _counter("samples by thread", threads, total, 8)
    wtotal = sum(workers.values())
    _counter(f"copy workers inside copy_unit ({wtotal} samples = 100%)", workers, wtotal, top)
    _counter("other samples (main thread: steps 1-3, 5-7; workers between units)", main, total, 12)
    _counter("inclusive vendzz_migrate functions, share of all samples", incl, total, top)


def _short(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def _counter(title: str, counter: collections.Counter[str], total: int, n: int) -> None:
    print(f"  {title}:")
    for name, count in counter.most_common(n):
        print(f"    {100 * count / max(total, 1):5.1f}%  {name[:110]}")


# -- main ------------------------------------------------------------------------------------


def _row(t: Timing, base: float | None) -> str:
    ratio = f"{t.seconds / base:.2f}x" if base and t.ok else "-"
    rss = f"{t.rss_mb:.0f}" if t.rss_mb is not None else "-"
    split = (
        f"{t.data_s:6.1f} + {t.post_s:5.1f}"
        if t.data_s is not None and t.post_s is not None
        else "      -"
    )
    flag = "" if t.ok else "  FAILED/INCOMPLETE"
    return (
        f"{t.tool:34} {t.seconds:8.1f} {t.rows / t.seconds:10,.0f} {ratio:>7} {split:>14}"
        f" {rss:>8}{flag}"
    )


def report(results: dict[str, list[Timing]]) -> None:
    base_runs = results.get("(a) sqlite3 -csv | psql", [])
    base = min(t.seconds for t in base_runs) if base_runs else None
    print("\nbest of each tool (ratio = best / best of (a); data + post-load seconds):")
    print(
        f"{'tool':34} {'seconds':>8} {'rows/s':>10} {'vs (a)':>7} {'data + post':>14} {'RSS MB':>8}"
    )
    for runs in results.values():
        print(_row(min(runs, key=lambda t: t.seconds), base))
    vs_pgloader(results)
    print("\nmedian of each tool:")
    for tool, runs in results.items():
        med = statistics.median(t.seconds for t in runs)
        rss = [t.rss_mb for t in runs if t.rss_mb is not None]
        extra = f", peak RSS max {max(rss):.0f} MB" if rss else ""
        ratio = (
            f" ({med / statistics.median(x.seconds for x in base_runs):.2f}x median (a))"
            if base_runs and all(t.ok for t in runs)
            else ""
        )
        print(
            f"  {tool:34} {med:8.1f}s over {len(runs)} run(s){ratio}{extra}: "
            + ", ".join(f"{t.seconds:.1f}" for t in runs)
        )
    for runs in results.values():
        for t in runs:
            if t.note:
                print(f"  note {t.tool}: {t.note}")
            if t.steps:
                print(
                    f"  steps {t.tool}: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.steps.items())
                )


def vs_pgloader(results: dict[str, list[Timing]]) -> None:
    """vendzz-migrate / pgloader (b3), the full pgloader load: best / best and median / median
    over complete runs only."""
    if not results.get(PGLOADER_B3):
        return
    done = [t.seconds for t in results[PGLOADER_B3] if t.ok]
    print(
        f"\nvendzz-migrate / pgloader (b3) ({len(done)} of {len(results[PGLOADER_B3])} (b3)"
        " run(s) complete; < 1 = vendzz-migrate faster):"
    )
    if not done:
        print("  no complete (b3) run: no ratio")
        return
    for tool, runs in results.items():
        ok = [t.seconds for t in runs if t.ok]
        if tool.startswith("(c)") and ok:
            print(
                f"  {tool:34} best {min(ok) / min(done):.2f}x, median "
                f"{statistics.median(ok) / statistics.median(done):.2f}x"
                f"{'' if len(ok) == len(runs) else f' ({len(runs) - len(ok)} failed run(s))'}"
            )


Tool = tuple[str, Callable[[str, int], Timing]]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", default="1,2", help="vendzz-migrate --workers values")
    ap.add_argument("--ref-jobs", type=int, default=1, help="parallel sqlite3|psql pipelines")
    ap.add_argument("--no-pgloader", action="store_true")
    ap.add_argument("--no-typed", action="store_true", help="skip (a2)")
    ap.add_argument("--no-big", action="store_true", help="skip the 2x file run")
    ap.add_argument("--profile", action="store_true", help="one py-spy run of vendzz-migrate")
    ap.add_argument(
        "--with-mapping",
        action="store_true",
        help="also vendzz-migrate --mapping (mapping inferred beforehand, untimed,"
        " as the reference's DDL is)",
    )
    ap.add_argument("--pgloader-timeout", type=float, default=1800)
    ap.add_argument(
        "--pgloader-with",
        action="append",
        metavar="OPTION",
        help=f"pgloader load option for (b3), repeatable (default: {'; '.join(PGLOADER_WITH)!r})",
    )
    return ap.parse_args()


def build_tools(
    args: argparse.Namespace, path: Path, ref: Reference, counts: dict[str, int], workers: list[int]
) -> list[Tool]:
    def reference_tool(name: str) -> Tool:
        return name, lambda url, _i: run_reference(name, path, url, ref, counts, args.ref_jobs)

    def pgloader_tool(name: str, file: Path, log: str, with_: list[str] | None = None) -> Tool:
        return name, lambda url, i: run_pgloader(
            name, file, url, counts, OUT / f"{log}-{i}.log", args.pgloader_timeout, with_
        )

    def vendzz_tool(w: int, mapping: Path | None = None) -> Tool:
        return (
            f"(c) vendzz-migrate -w{w}" + (" --mapping" if mapping else ""),
            lambda url, i: run_vendzz(
                path, url, w, counts, f"w{w}{'m' if mapping else ''}-{i}", mapping=mapping
            ),
        )

    tools = [reference_tool("(a) sqlite3 -csv | psql")]
    if not args.no_typed:
        tools.append(reference_tool("(a2) sqlite3 typed | psql"))
    if not args.no_pgloader:
        noexpr, dropped = without_expression_indexes(path)
        print(
            f"(b2) = pgloader on {noexpr.name}: the same file minus the expression "
            f"index(es) {', '.join(dropped)} that crash pgloader",
            flush=True,
        )
        with_ = args.pgloader_with or PGLOADER_WITH
        print(
            f"(b3) = (b2) with {' '.join(f'--with {w!r}' for w in with_)}: the defaults"
            " often exhaust pgloader's heap on this file",
            flush=True,
        )
        tools += [
            pgloader_tool("(b) pgloader", path, "pgloader"),
            pgloader_tool("(b2) pgloader, no expr index", noexpr, "pgloader2"),
            pgloader_tool(PGLOADER_B3, noexpr, "pgloader3", with_),
        ]
    tools += [vendzz_tool(w) for w in workers]
    if args.with_mapping:
        tools += [vendzz_tool(w, mapping_file(path)) for w in workers]
    return tools


def run_rounds(admin: str, tools: list[Tool], rounds: int) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {name: [] for name, _ in tools}
    for i in range(rounds):
        for n, (name, fn) in enumerate(tools):
            db = f"vzbench_{n}"
            url = fresh_db(admin, db)
            try:
                t = fn(url, i)
            finally:
                drop_db(admin, db)
            results[name].append(t)
            print(f"round {i + 1}: {_row(t, None)}  [load {os.getloadavg()[0]:.2f}]", flush=True)
    return results


def big_run(admin: str, rows: int, ref: Reference, workers: int) -> None:
    big = bench_file(rows)
    big_counts = source_counts(big, ref.plans)
    url = fresh_db(admin, "vzbench_big")
    try:
        t = run_vendzz(big, url, workers, big_counts, "big")
    finally:
        drop_db(admin, "vzbench_big")
    print(
        f"\n2x file {big.name} ({sum(big_counts.values()):,} rows): {_row(t, None)}"
        f"\n  steps {t.steps}{'  ' + t.note if t.note else ''}"
    )


def _revision() -> str:
    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "vendzz_migrate")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def main() -> None:
    args = parse_args()
    admin = os.environ.get("DATABASE_URL") or DEFAULT_URL
    OUT.mkdir(parents=True, exist_ok=True)
    path = bench_file(args.rows)
    ref = reference(path, admin)
    counts = source_counts(path, ref.plans)
    workers = [int(w) for w in args.workers.split(",")]
    print(
        f"file {path.name}: {sum(counts.values()):,} rows in {len(counts)} tables, "
        f"{path.stat().st_size / 1e6:,.0f} MB; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} (shared machine); vendzz_migrate at {_revision()}",
        flush=True,
    )
    results = run_rounds(admin, build_tools(args, path, ref, counts, workers), args.rounds)
    if args.rounds:
        report(results)
    if not args.no_big:
        big_run(admin, args.rows * 2, ref, max(workers))
    if args.profile:
        profile(path, admin, counts, max(workers))
    print(f"\nvendzz_migrate at {_revision()} at the end; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
