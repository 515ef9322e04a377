"""Throwaway servers for preflight tests: failing conditions are produced for real.

- a redis-server of our own on a free port (so ``CONFIG SET`` never touches the shared one);
- a PostgreSQL started from the binaries with a low ``max_connections`` (initdb + pg_ctl),
  run as the ``postgres`` OS user when the tests run as root (postgres refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import as_service_user, free_port, service_dir, wait_until


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


@pytest.fixture(scope="session")
def low_max_pg() -> Iterator[str]:
    """A throwaway PostgreSQL with max_connections = 20; yields its URL."""
    bindir = _pg_bindir()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    base = service_dir("vzt-pg-")
    data, port = base / "data", free_port()
    subprocess.run(
        as_service_user(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    opts = (
        f"-c max_connections=20 -c port={port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={base}"
    )
    subprocess.run(
        as_service_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-w",
                "-l",
                str(base / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(
        as_service_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        capture_output=True,
        check=False,
    )
    shutil.rmtree(base, ignore_errors=True)


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
