"""verify under hostile use (issue #11): personal key values redacted unless --show-values,
its own interrupt hint (not the copy's), nothing reported as verified on an empty file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.verify.helpers import copy
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode

runner = CliRunner()


def keyed_by_email(tmp_path: Path, pg_url: str) -> Path:
    """A copied file whose target then lost a row of each table: a table keyed by an e-mail
    column, and one keyed by ``id`` whose values are e-mail addresses."""
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.executescript(
        "CREATE TABLE subscribers (email TEXT PRIMARY KEY, n INTEGER);"
        "CREATE TABLE invites (id TEXT PRIMARY KEY, n INTEGER);"
        "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER);"
        "INSERT INTO subscribers VALUES ('alice.secret@example.org', 1), ('b@example.org', 2);"
        "INSERT INTO invites VALUES ('carol.hidden@example.net', 1), ('x', 2);"
        "INSERT INTO counters VALUES (41, 1), (42, 2);"
    )
    conn.close()
    copy(src, pg_url, tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute(
            "DELETE FROM subscribers WHERE email = 'alice.secret@example.org';"
            "DELETE FROM invites WHERE id = 'carol.hidden@example.net';"
            "DELETE FROM counters WHERE id = 42"
        )
    return src


def test_personal_key_values_are_redacted_unless_show_values(pg_url: str, tmp_path: Path) -> None:
    src = keyed_by_email(tmp_path, pg_url)
    result = runner.invoke(
        app,
        [
            "verify",
            str(src),
            "--target",
            pg_url,
            "--mode",
            "full",
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == ExitCode.MISMATCH, result.output
    shown = result.output + (tmp_path / "r.json").read_text()
    assert "alice.secret" not in shown and "carol.hidden" not in shown
    assert '{"email": "<redacted>"}' in result.output
    assert '{"id": "<redacted>"}' in result.output
    assert '{"id": 42}' in result.output  # a key that is no personal data stays findable
    revealed = runner.invoke(
        app, ["verify", str(src), "--target", pg_url, "--mode", "full", "--show-values"]
    )
    assert revealed.exit_code == ExitCode.MISMATCH
    assert "alice.secret@example.org" in revealed.output
    assert "carol.hidden@example.net" in revealed.output


def test_ctrl_c_during_verify_gives_verify_s_hint(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vendzz_migrate.verify as verify_lib

    src = keyed_by_email(tmp_path, pg_url)

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_lib, "run", interrupted)
    result = runner.invoke(app, ["verify", str(src), "--target", pg_url])
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "--resume" not in result.output and "verify changed nothing" in result.output
