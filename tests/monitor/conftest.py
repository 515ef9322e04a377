"""Monitor tests: the slow test app in its own process and a PostgreSQL of our own with a low
max_connections (run as the ``postgres`` OS user when the tests run as root)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loadtest.servers import App, running_app
from tests.pg_cluster import own_cluster


@pytest.fixture
def app() -> Iterator[App]:
    with running_app() as a:
        yield a


@pytest.fixture
def small_pg() -> Iterator[str]:
    """A throwaway PostgreSQL with max_connections = 20; yields its URL."""
    with own_cluster("max_connections=20") as url:
        yield url
