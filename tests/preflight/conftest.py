"""Throwaway servers for preflight tests: failing conditions are produced for real.

- a redis-server of our own on a free port (so ``CONFIG SET`` never touches the shared one);
- a PostgreSQL started from the binaries with a low ``max_connections`` (initdb + pg_ctl),
  run as the ``postgres`` OS user when the tests run as root (postgres refuses root).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.pg_cluster import own_cluster
from tests.support import free_port, wait_until


@pytest.fixture(scope="session")
def low_max_pg() -> Iterator[str]:
    """A throwaway PostgreSQL with max_connections = 20; yields its URL."""
    with own_cluster("max_connections=20") as url:
        yield url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test only (CONFIG SET is safe here); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def up() -> bool:
        try:
            return bool(redis.Redis.from_url(url).ping())
        except redis.RedisError:
            return False

    wait_until(up, "redis-server")
    yield url
    proc.kill()  # a throwaway: no shutdown save wanted
    proc.wait(10)
