"""``python -m examples.service.ctl start|stop|restart|status --state-dir DIR``.

A control command so that a cutover's "switch" hook is one plain shell command:

- ``start`` daemonizes the service (``service.pid``, ``service.env``, ``service.log`` in DIR),
  waits (bounded by ``--timeout``) until ``/health`` answers 200 with its database reachable, and
  exits non-zero with a one-line reason otherwise (the process it started is then stopped);
- ``restart`` keeps the env file's values except those given: ``restart --database-url
  postgresql://...`` is the switch;
- ``stop`` is graceful: SIGTERM (uvicorn finishes in-flight requests), then SIGKILL after
  ``--timeout``;
- ``status`` prints JSON (running, pid, port, masked URLs, the service's /health).

Exit codes (vendzz_migrate.errors.ExitCode): 0 done; 4 bad input (no DATABASE_URL...);
5 the service did not become healthy in time (database down, no answer); 7 state in the way
(already running, port taken; ``status``: not running); or the service's own exit code when it
stopped during start (4: bad setting or database file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vendzz_migrate.errors import ConfigError, ConnectionFailed, ExitCode, StateError, VendzzError
from vendzz_migrate.fileio import atomic_write_text
from vendzz_migrate.urls import mask

ROOT = Path(__file__).resolve().parents[2]
PASSED_ENV = (
    "HOST", "PGPOOL_MIN_CONNECTIONS", "PGPOOL_MAX_CONNECTIONS", "REDIS_MAX_CONNECTIONS",
    "VENDZZ_SCHEMA", "VENDZZ_MAPPING", "VENDZZ_LOGIN_LIMIT", "VENDZZ_LOGIN_WINDOW_S",
    "VENDZZ_SECRET", "VENDZZ_SQLITE_BUSY_TIMEOUT_MS", "VENDZZ_MAINTENANCE_KEY", "DATABASE_URL",
    "REDIS_URL", "PORT",
)  # fmt: skip
POLL_S = 0.1


class State:
    """The files of one service instance in its state directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.pid_file = directory / "service.pid"
        self.env_file = directory / "service.env"
        self.log_file = directory / "service.log"
        self.maintenance_file = directory / "maintenance"

    def read_env(self) -> dict[str, str]:
        if not self.env_file.exists():
            return {}
        env = {}
        for line in self.env_file.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value
        return env

    def write_env(self, env: dict[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
        atomic_write_text(
            self.env_file, "# examples.service ctl: the service's environment\n" + body
        )
        self.env_file.chmod(0o600)  # it may hold passwords

    def pid(self) -> int | None:
        """The service's pid when it runs (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _is_service(pid) else None


def _is_service(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    text = cmdline.replace(b"\0", b" ")
    return b"examples.service" in text and b"examples.service.ctl" not in text


def _health(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> tuple[int, Any]:
    """(HTTP status, body) of /health; (0, reason) when nothing answers."""
    url = f"http://{host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError):
            return int(exc.code), json.loads(exc.read())
        return int(exc.code), None
    except (OSError, ValueError) as exc:
        return 0, str(exc)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def merged_env(state: State, flags: dict[str, str | None]) -> dict[str, str]:
    """The caller's service variables < the env file < the flags given."""
    env = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
    env.update(state.read_env())
    env.update({k: v for k, v in flags.items() if v is not None})
    env = {k: _absolute(k, v) for k, v in env.items() if v != ""}
    env.setdefault("PORT", "5000")
    env.setdefault("VENDZZ_MAINTENANCE_FILE", str(state.maintenance_file))
    if not env.get("DATABASE_URL"):
        raise ConfigError("no database: pass --database-url (or set DATABASE_URL)")
    return env


def _absolute(key: str, value: str) -> str:
    """Paths relative to the caller's directory (the service runs from the repository root)."""
    lite = "sqlite:///"
    if key == "DATABASE_URL" and value.startswith(lite) and not value.startswith(lite + "/"):
        path, sep, query = value[len(lite) :].partition("?")
        return f"{lite}{Path(path).resolve()}{sep}{query}"
    if key in ("VENDZZ_MAPPING", "VENDZZ_MAINTENANCE_FILE"):
        return str(Path(value).resolve())
    return value


def start(state: State, flags: dict[str, str | None], timeout: float) -> dict[str, Any]:
    pid = state.pid()
    if pid is not None:
        raise StateError(f"already running (pid {pid}); use restart")
    env = merged_env(state, flags)
    port, host = int(env["PORT"]), env.get("HOST", "127.0.0.1")
    if not _port_free(host, port):
        raise StateError(f"port {port} on {host} is already in use")
    state.write_env(env)
    child_env = {k: v for k, v in os.environ.items() if k not in PASSED_ENV}
    child_env.update(env)
    with state.log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.service"],
            cwd=ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    atomic_write_text(state.pid_file, f"{proc.pid}\n")
    try:
        health = _wait_healthy(state, proc, host, port, timeout)
    except VendzzError:
        _terminate(proc.pid, timeout=10)
        state.pid_file.unlink(missing_ok=True)
        raise
    return {
        "started": True,
        "pid": proc.pid,
        "port": port,
        "database": health.get("database", {}).get("kind"),
    }


def _wait_healthy(
    state: State, proc: subprocess.Popen[bytes], host: str, port: int, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = "no answer"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise _exited(state, code)
        status, body = _health(port, host)
        if status == 200 and isinstance(body, dict):
            return body
        if status and isinstance(body, dict):
            last = body.get("database", {}).get("error") or body.get("status")
        elif status == 0:
            last = f"no answer on port {port}"
        time.sleep(POLL_S)
    raise ConnectionFailed(f"the service did not become healthy in {timeout:g} s: {last}")


def _exited(state: State, code: int) -> VendzzError:
    lines = [ln for ln in state.log_file.read_text(errors="replace").splitlines() if ln.strip()]
    reason = next((ln for ln in reversed(lines) if ln.startswith("error:")), None)
    reason = reason or (lines[-1] if lines else "no output")
    err = VendzzError(f"the service stopped during start (exit {code}): {reason}")
    valid = {int(c) for c in ExitCode}
    err.exit_code = ExitCode(code) if code in valid and code else ExitCode.TARGET
    return err


def _terminate(pid: int, timeout: float) -> str:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns how it ended."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return "terminated"
        time.sleep(POLL_S)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(POLL_S)
    return "killed"


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if stat.read_text().split(") ", 1)[1].startswith("Z"):
            return False  # a zombie: it has exited
    return True


def stop(state: State, timeout: float) -> dict[str, Any]:
    pid = state.pid()
    if pid is None:
        state.pid_file.unlink(missing_ok=True)
        return {"stopped": False, "reason": "not running"}
    how = _terminate(pid, timeout)
    state.pid_file.unlink(missing_ok=True)
    return {"stopped": True, "pid": pid, "how": how}


def status(state: State) -> dict[str, Any]:
    env = state.read_env()
    pid = state.pid()
    port = int(env.get("PORT", "5000"))
    health = _health(port, env.get("HOST", "127.0.0.1"))[1] if pid else None
    return {
        "running": pid is not None,
        "pid": pid,
        "port": port,
        "state_dir": str(state.dir),
        "database_url": mask(env.get("DATABASE_URL")) or None,
        "redis_url": mask(env.get("REDIS_URL")) or None,
        "health": health if isinstance(health, dict) else None,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.service.ctl",
        description="Start, stop, restart or inspect the service.",
    )
    parser.add_argument("command", choices=["start", "stop", "restart", "status"])
    parser.add_argument(
        "--state-dir", required=True, type=Path, help="where the pid, env and log files live"
    )
    parser.add_argument("--database-url", help="DATABASE_URL (sqlite:///FILE or postgresql://)")
    parser.add_argument("--redis-url", help="REDIS_URL ('' for none)")
    parser.add_argument("--port", type=int, help="PORT (default 5000)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another variable for the service (repeatable; kept by restart)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for /health (start) or the exit (stop)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    state = State(args.state_dir.resolve())
    flags: dict[str, str | None] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--env {item!r}: expected KEY=VALUE")
        flags[key.strip()] = value
    flags.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "PORT": str(args.port) if args.port is not None else None,
        }
    )
    if args.command == "start":
        return start(state, flags, args.timeout)
    if args.command == "stop":
        return stop(state, args.timeout)
    if args.command == "restart":
        stopped = stop(state, args.timeout)
        return {**start(state, flags, args.timeout), "previous": stopped}
    return status(state)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except VendzzError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    print(json.dumps(result))
    if args.command == "status" and not result["running"]:
        return int(ExitCode.STATE)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
