"""Monitor tests: the slow test app in its own process and a PostgreSQL of our own with a low
max_connections (run as the ``postgres`` OS user when the tests run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loadtest.servers import App, free_port, running_app


@pytest.fixture
def app() -> Iterator[App]:
    with running_app() as a:
        yield a


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture
def small_pg() -> Iterator[str]:
    """A throwaway PostgreSQL with max_connections = 20; yields its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not found or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    bindir = Path(found[0]).parent
    base = Path(tempfile.mkdtemp(prefix="vzt-mon-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
    data, port = base / "data", free_port()
    subprocess.run(
        _as_postgres(
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
        _as_postgres(
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
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        capture_output=True,
        check=False,
    )
    shutil.rmtree(base, ignore_errors=True)
