"""Helpers every test package shares: a free loopback port, a bounded wait for a condition,
running a server binary as the ``postgres`` service user when the tests run as root
(pgbouncer, initdb and pg_ctl refuse root), and Ctrl-C sent to a command at a given moment."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from vendzz_migrate.net import free_port  # noqa: F401 (the tests' one import of it)


class Ended(NamedTuple):
    code: int
    stdout: str


def wait_until(
    probe: Callable[[], object],
    what: str,
    *,
    timeout_s: float = 30.0,
    step_s: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> None:
    """Poll ``probe`` until it returns something true (a readiness wait bounded in time, never
    a fixed sleep); exceptions of the ``ignore`` types count as "not yet"."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if probe():
                return
        except ignore:
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(step_s)


def as_service_user(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so it runs as ``postgres`` when we are root; unchanged otherwise."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def give_to_service_user(*paths: Path) -> None:
    """chown ``paths`` to ``postgres`` when we are root (so a server run as it can write)."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam("postgres")
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)


def service_dir(prefix: str) -> Path:
    """A temp dir the service user can write to."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    give_to_service_user(path)
    return path


def ctrl_c_cli(args: list[str], when: Callable[[str], bool], timeout_s: float = 60) -> Ended:
    """``vendzz-migrate ARGS`` in a process of its own, sent SIGINT (Ctrl-C) after the first
    line on its stderr for which ``when`` holds; its exit code and stdout."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vendzz_migrate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if when(line):
                break
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Ended(proc.returncode, stdout)
