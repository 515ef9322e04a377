"""Bad input: one clear line, a documented exit code, no traceback, nothing lost."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import with_dbname
from tests.pg_cluster import own_cluster
from tests.support import free_port
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sqlite-to-pg", *args])
    output = result.output
    assert "Traceback" not in output, output
    return result.exit_code, output


def small_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        "PRAGMA journal_mode=WAL; CREATE TABLE users (id TEXT PRIMARY KEY, n INT);"
        "INSERT INTO users VALUES ('a', 1), ('b', 2);"
    )
    conn.close()
    return path


def args(src: Path, url: str, tmp: Path, *extra: str) -> list[str]:
    return [str(src), "--target", url, "--work-dir", str(tmp / "work"), *extra]


def test_missing_file(pg_url: str, tmp_path: Path) -> None:
    code, out = cli(*args(tmp_path / "nope.db", pg_url, tmp_path))
    assert code == ExitCode.SOURCE and "no such file" in out


def test_not_sqlite(pg_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("hello, I am not a database" * 100)
    code, out = cli(*args(bad, pg_url, tmp_path))
    assert code == ExitCode.SOURCE and "not a SQLite database" in out


def test_truncated_file(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "t.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 500) for i in range(2000)])
    conn.commit()
    conn.close()
    with open(src, "r+b") as fh:
        fh.truncate(os.path.getsize(src) // 3)
    code, out = cli(*args(src, pg_url, tmp_path))
    assert code == ExitCode.SOURCE, out
    assert "corrupt" in out or "malformed" in out


def test_locked_file(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "locked.db"
    conn = sqlite3.connect(src, isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are locked out
    try:
        code, out = cli(*args(src, pg_url, tmp_path))
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert code == ExitCode.SOURCE and "locked" in out


def test_unreadable_wal(pg_url: str, tmp_path: Path) -> None:
    src = small_db(tmp_path / "w.db")
    wal = Path(str(src) + "-wal")
    wal.unlink(missing_ok=True)
    wal.mkdir()  # not a readable file, even for root
    code, out = cli(*args(src, pg_url, tmp_path))
    assert code == ExitCode.SOURCE, out
    assert "w.db" in out


def test_unreachable_target(tmp_path: Path) -> None:
    src = small_db(tmp_path / "s.db")
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/x"
    code, out = cli(*args(src, url, tmp_path))
    assert code == ExitCode.CONNECTION and "cannot reach PostgreSQL" in out
    assert "secret" not in out and "***" in out


@pytest.fixture(scope="module")
def scram_server() -> Iterator[str]:
    """A throwaway PostgreSQL that really checks passwords (scram-sha-256)."""
    with own_cluster(password="right-password") as url:
        yield url


def test_wrong_password(scram_server: str, tmp_path: Path) -> None:
    src = small_db(tmp_path / "s.db")
    url = scram_server.replace("right-password", "wrong-password")
    code, out = cli(*args(src, url, tmp_path))
    assert code == ExitCode.CONNECTION and "authentication failed" in out
    assert "wrong-password" not in out


def test_right_password_works(scram_server: str, tmp_path: Path) -> None:
    src = small_db(tmp_path / "s.db")
    code, out = cli(*args(src, scram_server, tmp_path))
    assert code == ExitCode.OK, out
    assert "right-password" not in out


def test_no_create_permission(pg_url: str, tmp_path: Path) -> None:
    role = f"vz_noperm_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'REVOKE CREATE ON SCHEMA public FROM "{role}", PUBLIC')
    try:
        url = pg_url.replace("postgres@", f"{role}@", 1)
        code, out = cli(*args(small_db(tmp_path / "s.db"), url, tmp_path))
        assert code == ExitCode.PERMISSION, out
        assert "permission denied" in out
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
        with psycopg.connect(with_dbname(pg_url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_target_already_holds_the_tables(pg_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id text, app_data text)")
        conn.execute("INSERT INTO users VALUES ('keep', 'me')")
    code, out = cli(*args(small_db(tmp_path / "s.db"), pg_url, tmp_path))
    assert code == ExitCode.STATE and "already holds" in out
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT * FROM users").fetchall() == [("keep", "me")]


def test_invalid_mapping_names_the_field(pg_url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\ntables:\n  users:\n    columns:\n"
        "      id: {type: text, convert: bogus}\n      n: {type: bigint,"
        " convert: integer}\n"
    )
    code, out = cli(*args(small_db(tmp_path / "s.db"), pg_url, tmp_path, "--mapping", str(mapping)))
    assert code == ExitCode.CONFIG
    assert "tables.users.columns.id.convert" in out


def test_mapping_with_unknown_field(pg_url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\ntables:\n  users:\n    columns:\n"
        "      id: {type: text, convert: text, colour: red}\n"
    )
    code, out = cli(*args(small_db(tmp_path / "s.db"), pg_url, tmp_path, "--mapping", str(mapping)))
    assert code == ExitCode.CONFIG and "colour" in out


def test_names_with_quotes_and_semicolons(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "q.db"
    conn = sqlite3.connect(src)
    conn.execute('CREATE TABLE "x""; DROP TABLE y; --" ("a""b;c" TEXT PRIMARY KEY, "order" INT)')
    conn.execute('INSERT INTO "x""; DROP TABLE y; --" VALUES (\'k\', 1)')
    conn.commit()
    conn.close()
    code, out = cli(*args(src, pg_url, tmp_path))
    assert code == ExitCode.OK, out
    with psycopg.connect(pg_url) as pg:
        got = pg.execute('SELECT "a""b;c", "order" FROM "x""; DROP TABLE y; --"').fetchall()
    assert got == [("k", 1)]
