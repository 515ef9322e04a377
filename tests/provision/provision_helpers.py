"""Helpers for provision tests (imported by conftest.py and tests; not a conftest)."""

from __future__ import annotations

import os
import pwd
import socket
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_service_user(argv: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root (pgbouncer refuses root); unchanged otherwise."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def give_to_service_user(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam("postgres")
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)


def wait_until(probe: Callable[[], bool], what: str) -> None:
    """Poll a readiness probe (a bounded loop, no fixed sleep)."""
    for _ in range(200):
        if probe():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")
