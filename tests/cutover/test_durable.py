"""What the cutover commits survives a server crash: its connections keep synchronous_commit on
(the copy's bulk load turns it off; a final delta lost after the switch would be lost rows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vendzz_migrate.cutover import engine, rehearsal, rollback


@pytest.mark.parametrize("connect", [engine._connect, rollback._connect])
def test_the_cutover_connections_commit_durably(
    tmp_path: Path, pg_url: str, connect: object
) -> None:
    source = tmp_path / "s.db"
    sqlite3.connect(source).close()
    plan = rehearsal.plan_for(tmp_path, source, pg_url, port=1)
    conn = connect(plan)  # type: ignore[operator]
    try:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"
    finally:
        conn.close()
