"""Helpers shared by the verify tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from vendzz_migrate.copy.run import CopyOptions
from vendzz_migrate.copy.run import run as copy_run
from vendzz_migrate.errors import MismatchError, RejectsError
from vendzz_migrate.report.copy import CopyReport
from vendzz_migrate.verify import VerifyOptions, VerifyReport
from vendzz_migrate.verify import run as verify_run
from vendzz_migrate.verify.model import Difference, TableResult

try:
    from vendzz_migrate import _speed
except ImportError:
    _speed = None  # type: ignore[assignment]

# The one rule for the C extension (vendzz_migrate/_speed.c): optional at install (setup.py),
# the same results without it (test_without_the_c_extension_the_sums_are_the_same); the tests
# of its paths run wherever it is built, and CI must build it (test_the_c_speedup_is_built).
needs_c = pytest.mark.skipif(_speed is None, reason="the optional C extension is not built")


def copy(source: Path, pg_url: str, work: Path, **options: Any) -> CopyReport:
    """sqlite-to-pg as a library call; rejected rows are accepted (they are quarantined)."""
    try:
        return copy_run(CopyOptions(source=source, target_url=pg_url, work_dir=work, **options))
    except RejectsError as exc:
        report: CopyReport = exc.data["report"]
        return report


def verify(source: Path, pg_url: str, **options: Any) -> VerifyReport:
    """verify as a library call; returns the report whether or not it matched."""
    try:
        return verify_run(VerifyOptions(source=source, target_url=pg_url, **options))
    except MismatchError as exc:
        report: VerifyReport = exc.data["report"]
        assert not report.ok
        return report


def execute(pg_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        cur = conn.execute(sql.encode(), params or None)
        return cur.fetchall() if cur.description else []


def table(report: VerifyReport, name: str) -> TableResult:
    return next(t for t in report.tables if t.table == name)


def only_difference(report: VerifyReport) -> tuple[TableResult, Difference]:
    """The single table that differs and its single (non-quarantined) difference."""
    bad = [t for t in report.tables if t.missing or t.extra or t.changed]
    assert len(bad) == 1, [(t.table, t.missing, t.extra, t.changed) for t in bad]
    diffs = [d for d in bad[0].differences if d.kind.value != "quarantined"]
    assert len(diffs) == 1, diffs
    return bad[0], diffs[0]


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
