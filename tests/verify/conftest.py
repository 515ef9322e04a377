"""Fixtures for the verify tests: a dirty generated file, copied once per worker into a
template database, cloned into a fresh database per test (fast, and tests stay independent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import with_dbname
from tests.verify.helpers import copy
from vendzz_migrate.sample import generate
from vendzz_migrate.sample.models import SampleStats


@pytest.fixture(scope="session")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return generate(tmp_path_factory.mktemp("verify") / "vendzz.db", rows=2000, seed=5)


@pytest.fixture(scope="session")
def template_db(
    pg_server_url: str, dirty: SampleStats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database holding a finished copy of ``dirty``; only ever used as a template."""
    name = f"vzt_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        copy(dirty.path, with_dbname(pg_server_url, name), tmp_path_factory.mktemp("work"))
        yield name
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def copied(pg_server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh database holding the copy of ``dirty`` (clone of the template)."""
    name = f"vzt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_dbname(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def source_copy(dirty: SampleStats, tmp_path: Path) -> Path:
    """A private copy of the dirty file, to change it after the copy."""
    import sqlite3

    dest = tmp_path / "vendzz.db"
    src = sqlite3.connect(f"file:{dirty.path}?mode=ro", uri=True)
    out = sqlite3.connect(dest)
    src.backup(out)
    out.close()
    src.close()
    return dest
