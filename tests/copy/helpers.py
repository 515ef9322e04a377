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


def verified(source: Path, pg_url: str, *, schema: str = "public", mode: str = "full") -> None:
    """Every end-to-end copy test ends here: verify must find nothing missing or changed."""
    from vendzz_migrate.verify import VerifyOptions
    from vendzz_migrate.verify import run as verify

    report = verify(VerifyOptions(source=source, target_url=pg_url, schema_name=schema,
                                  mode=mode))  # type: ignore[arg-type]
    assert report.ok, report.model_dump_json(indent=1)[:4000]


def rows(pg_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(sql.encode(), params).fetchall()
