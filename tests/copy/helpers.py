"""Helpers shared by the copy tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from vendzz_migrate.copy.run import CopyOptions, run
from vendzz_migrate.errors import RejectsError
from vendzz_migrate.report.copy import CopyReport


def copy(source: Path, pg_url: str, work: Path, **options: Any) -> CopyReport:
    """Run sqlite-to-pg as a library call; a report is returned even when rows were rejected."""
    opts = CopyOptions(source=source, target_url=pg_url, work_dir=work, **options)
    try:
        return run(opts)
    except RejectsError as exc:
        report: CopyReport = exc.data["report"]
        return report


def rows(pg_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(sql.encode(), params).fetchall()
