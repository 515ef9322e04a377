"""Helpers: compare what warm-cache wrote with PostgreSQL rows (read back independently), run
the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row
from typer.testing import CliRunner

from vendzz_migrate.cli import app


def rows(pg_url: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def same(encoded: Any, value: Any) -> bool:
    """``encoded`` (a hash field string or a JSON-decoded value) represents ``value``."""
    if isinstance(value, bool):
        return encoded in (value, "true" if value else "false")
    if isinstance(value, datetime):
        return datetime.fromisoformat(str(encoded)) == value
    if isinstance(value, Decimal):
        return Decimal(str(encoded)) == value
    if isinstance(value, int | float) and isinstance(encoded, str):
        return type(value)(encoded) == value
    if isinstance(value, dict | list) and isinstance(encoded, str):
        return json.loads(encoded) == value
    return bool(encoded == value)


def check_hash(client: redis.Redis, key: str, row: dict[str, Any], fields: list[str]) -> None:
    got = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    expected = {f for f in fields if row[f] is not None}
    assert set(got) == expected, (key, set(got) ^ expected)
    for name in expected:
        assert same(got[name], row[name]), (key, name, got[name], row[name])


def check_json(client: redis.Redis, key: str, row: dict[str, Any]) -> None:
    raw = client.get(key)
    assert raw is not None, key
    got = json.loads(raw)
    assert set(got) == set(row), key
    for name, value in row.items():
        assert (got[name] is None) == (value is None), (key, name)
        if value is not None:
            assert same(got[name], value), (key, name, got[name], value)


class Cli:
    """vendzz-migrate through typer's CliRunner: returns (exit code, stdout, stderr)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, **env: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args), env={**self.env, **env})
        return result.exit_code, result.stdout, result.stderr
