"""Helpers shared by the copy tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from vendzz_migrate.cli import app
from vendzz_migrate.copy.run import CopyOptions, run
from vendzz_migrate.errors import RejectsFound
from vendzz_migrate.events import Sink, discard
from vendzz_migrate.report.copy import CopyReport


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process: its exit code and output, which never holds a traceback."""
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def copy_cli(source: Path | str, url: str, work: Path | str, *extra: str) -> tuple[int, str]:
    """``vendzz-migrate sqlite-to-pg SOURCE --target URL --work-dir WORK EXTRA...``."""
    return cli("sqlite-to-pg", str(source), "--target", url, "--work-dir", str(work), *extra)


def copy(
    source: Path, pg_url: str, work: Path, on_event: Sink = discard, **options: Any
) -> CopyReport:
    """Run sqlite-to-pg as a library call; a report is returned even when rows were rejected."""
    opts = CopyOptions(source=source, target_url=pg_url, work_dir=work, **options)
    try:
        return run(opts, on_event)
    except RejectsFound as exc:
        return exc.report


def verified(
    source: Path,
    pg_url: str,
    *,
    schema: str = "public",
    mode: str = "full",
    absent: frozenset[str] = frozenset(),
) -> None:
    """Every end-to-end copy test ends here: verify must find nothing missing or changed;
    with ``absent``, exactly those schema objects (names, or prefixes of them) missing in
    PostgreSQL, each reported as a difference (verify's exit 9) with PostgreSQL's reason."""
    from vendzz_migrate.errors import MismatchError
    from vendzz_migrate.verify import VerifyOptions
    from vendzz_migrate.verify import run as verify
    from vendzz_migrate.verify.model import Status

    opts = VerifyOptions(source=source, target_url=pg_url, schema_name=schema, mode=mode)  # type: ignore[arg-type]
    if not absent:
        report = verify(opts)
        assert report.ok, report.model_dump_json(indent=1)[:4000]
        return
    try:
        verify(opts)
    except MismatchError as exc:
        report = exc.data["report"]
    else:
        raise AssertionError(f"verify passed with {sorted(absent)} missing in PostgreSQL")
    bad = [c for c in report.schema_checks if c.status is Status.MISMATCH]
    assert len(bad) == len(absent), bad
    assert all(any(c.object.startswith(a) for a in absent) for c in bad), bad
    assert all(c.detail.startswith("missing in the target: not created") for c in bad), bad
    assert report.total.missing + report.total.extra + report.total.changed == 0


def rows(pg_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(sql.encode(), params).fetchall()


def units_done(url: str) -> int:
    """Copy units committed so far (0 before the state tables exist)."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM vendzz_migrate.units WHERE done").fetchone()
            return int(row[0]) if row else 0
    except psycopg.errors.UndefinedTable:
        return 0


def started(source: Path, url: str, work: Path, units: int, **popen: Any) -> subprocess.Popen[str]:
    """The copy (2 workers, units of 100 rows) in a process of its own, returned once ``units``
    units are committed (or it ended, or 120 s passed); its stderr goes to
    ``work / "stderr.txt"`` (a pipe nobody reads yet could fill up and stall it)."""
    cmd = [sys.executable, "-m", "vendzz_migrate", "sqlite-to-pg", str(source), "--target", url]
    cmd += ["--work-dir", str(work), "--batch-rows", "100", "--workers", "2"]
    with open(work / "stderr.txt", "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, **popen)
    deadline = time.monotonic() + 120
    while units_done(url) < units and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polling a condition in PostgreSQL, bounded by the deadline
    return proc
