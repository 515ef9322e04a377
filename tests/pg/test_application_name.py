"""Every connection the product opens names its command in pg_stat_activity:
``vendzz-migrate:<command>[:<role>]``."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from tests.pg_cluster import remove, start_cluster
from vendzz_migrate import pg
from vendzz_migrate.cli import app

AUTHORIZED = re.compile(r"connection authorized: user=\S+ database=\S+(?: application_name=(\S*))?")


def seen_in_pg_stat_activity(url: str, command: str, role: str | None) -> str | None:
    with (
        pg.connect(url, command=command, role=role, autocommit=True) as conn,
        psycopg.connect(url, autocommit=True) as watcher,
    ):
        row = watcher.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = %s",
            [conn.info.backend_pid],
        ).fetchone()
    return row[0] if row else None


def test_connect_names_command_and_role(pg_url: str) -> None:
    assert seen_in_pg_stat_activity(pg_url, "verify", None) == "vendzz-migrate:verify"
    got = seen_in_pg_stat_activity(pg_url, "sqlite-to-pg", "data")
    assert got == "vendzz-migrate:sqlite-to-pg:data"


def test_every_connection_of_the_demo_is_named(tmp_path: Path, redis_url: str) -> None:
    """The demo (copy, verify, warm-cache, preflight) against a server logging every
    connection: none of them is anonymous, each names its command."""
    cluster = start_cluster("log_connections=on")
    try:
        result = CliRunner().invoke(
            app,
            ["demo", "--rows", "100", "--no-cutover"],
            env={
                "DATABASE_URL": cluster.url,
                "REDIS_URL": redis_url,
                "VENDZZ_WORK_DIR": str(tmp_path),
            },
        )
        assert result.exit_code == 0, result.output
        log = (cluster.data / "log").read_text(errors="replace")
    finally:
        remove(cluster)
    names = [m.group(1) or "" for m in AUTHORIZED.finditer(log)]
    assert names, log[-2000:]
    assert all(n.startswith("vendzz-migrate:") for n in names), sorted(set(names))
    commands = {n.split(":")[1] for n in names}
    assert commands == {"demo", "sqlite-to-pg", "verify", "warm-cache", "preflight"}, names
    assert "vendzz-migrate:sqlite-to-pg:data" in names  # the copy's worker processes
