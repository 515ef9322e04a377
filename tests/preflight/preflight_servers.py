"""Helpers to start throwaway servers (imported by conftest.py and tests; not a conftest)."""

from __future__ import annotations

import os
import pwd
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_service_user(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so it runs as ``postgres`` when we are root; unchanged otherwise."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def service_dir(prefix: str) -> Path:
    """A temp dir the service user can write to (chowned to ``postgres`` when we are root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def wait_until(probe: Callable[[], bool], what: str, attempts: int = 200) -> None:
    """Poll a readiness probe (a bounded loop, no fixed sleep)."""
    for _ in range(attempts):
        if probe():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


def pg_connects(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False
