"""Fixtures for the cache tests: the Vendzz tables in PostgreSQL, throwaway redis-servers,
a session-wide 3-master Redis Cluster, and a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.cache.cache_helpers import Cli
from tests.cache.cache_servers import Servers, binary

TABLES_SQL = Path(__file__).with_name("vendzz_tables.sql")


def _need_redis_binaries() -> None:
    if binary("redis-server") is None or binary("redis-cli") is None:
        pytest.skip("redis-server / redis-cli are not installed (scripts/test.sh installs them)")


@pytest.fixture
def vendzz_pg(pg_url: str) -> str:
    """A fresh database holding the Vendzz tables with seeded rows."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(TABLES_SQL.read_text())  # type: ignore[call-overload]
    return pg_url


@pytest.fixture
def servers() -> Iterator[Servers]:
    """Throwaway redis-servers for one test (for CONFIG SET, requirepass, INFO stats, kills)."""
    _need_redis_binaries()
    started = Servers()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def cluster_nodes() -> Iterator[list[str]]:
    """A real 3-master Redis Cluster for this test session (per xdist worker)."""
    _need_redis_binaries()
    started = Servers()
    try:
        yield started.cluster(3)
    finally:
        started.stop()


@pytest.fixture
def cluster_url(cluster_nodes: list[str]) -> str:
    """The session cluster, emptied before the test; the URL of one master (the seed)."""
    for url in cluster_nodes:
        redis.Redis.from_url(url).flushall()
    return cluster_nodes[0]


@pytest.fixture
def cli(vendzz_pg: str, redis_url: str) -> Cli:
    """Run vendzz-migrate with DATABASE_URL / REDIS_URL pointing at this test's servers."""
    return Cli({"DATABASE_URL": vendzz_pg, "REDIS_URL": redis_url, "COLUMNS": "200"})
