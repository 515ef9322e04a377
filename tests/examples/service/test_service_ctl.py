"""``python -m examples.service.ctl``: start waits for a healthy service, restart is the switch
(keeping the env file's other values), stop is graceful, status is JSON; failures are one line
and a documented exit code."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from examples.service.ctl import State
from tests.examples.service.conftest import Sample
from tests.examples.service.helpers import free_port

ROOT = Path(__file__).resolve().parents[3]


def ctl(*args: str) -> tuple[int, Any, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORT")}
    done = subprocess.run(
        [sys.executable, "-m", "examples.service.ctl", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, out, done.stderr


def test_start_restart_switch_status_stop(sample: Sample, pg_copy: str, tmp_path: Path) -> None:
    state, port = str(tmp_path / "run"), str(free_port())
    code, started, err = ctl(
        "start",
        "--state-dir",
        state,
        "--database-url",
        sample.url,
        "--port",
        port,
        "--env",
        "VENDZZ_LOGIN_LIMIT=7",
    )
    try:
        assert code == 0, err
        assert started["database"] == "sqlite" and started["port"] == int(port)
        again = ctl("start", "--state-dir", state, "--database-url", sample.url)
        assert again[0] == 7 and "already running" in again[2]
        code, switched, err = ctl("restart", "--state-dir", state, "--database-url", pg_copy)
        assert code == 0, err
        assert switched["database"] == "postgresql" and switched["port"] == int(port)
        assert switched["previous"]["how"] == "terminated"  # SIGTERM was enough
        code, status, _ = ctl("status", "--state-dir", state)
        assert code == 0 and status["running"] is True
        assert status["health"]["database"]["kind"] == "postgresql"
        env = State(Path(state)).read_env()
        assert env["PORT"] == port and env["VENDZZ_LOGIN_LIMIT"] == "7"  # kept by restart
        assert stat.S_IMODE(os.stat(Path(state) / "service.env").st_mode) == 0o600
    finally:
        code, stopped, _ = ctl("stop", "--state-dir", state)
    assert code == 0 and stopped["stopped"] is True
    assert ctl("stop", "--state-dir", state)[1] == {"stopped": False, "reason": "not running"}
    code, status, _ = ctl("status", "--state-dir", state)
    assert code == 7 and status["running"] is False
    assert not (Path(state) / "service.pid").exists()


def test_start_fails_with_one_line_when_the_database_is_down(tmp_path: Path) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    code, out, err = ctl(
        "start",
        "--state-dir",
        str(tmp_path / "run"),
        "--database-url",
        dead,
        "--port",
        str(free_port()),
        "--timeout",
        "5",
    )
    assert code == 5 and out is None
    assert err.startswith("error: the service did not become healthy in 5 s")
    assert len(err.strip().splitlines()) == 1
    assert State(tmp_path / "run").pid() is None  # what it started was stopped


def test_start_reports_the_service_own_error(tmp_path: Path) -> None:
    code, _, err = ctl(
        "start",
        "--state-dir",
        str(tmp_path / "run"),
        "--database-url",
        f"sqlite:///{tmp_path}/missing.db",
        "--port",
        str(free_port()),
    )
    assert code == 4
    assert "stopped during start" in err and "no SQLite file at" in err


def test_start_refuses_a_taken_port_and_a_missing_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, _, err = ctl(
            "start",
            "--state-dir",
            str(tmp_path / "a"),
            "--database-url",
            "sqlite:///x.db",
            "--port",
            port,
        )
    assert code == 7 and f"port {port}" in err
    code, _, err = ctl("start", "--state-dir", str(tmp_path / "b"))
    assert code == 4 and "no database" in err


def test_relative_paths_are_the_caller_s(tmp_path: Path) -> None:
    from examples.service.ctl import merged_env

    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        env = merged_env(
            State(tmp_path / "run"),
            {"DATABASE_URL": "sqlite:///vendzz.db", "VENDZZ_MAPPING": "m.yaml"},
        )
    finally:
        os.chdir(previous)
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve()}/vendzz.db"
    assert env["VENDZZ_MAPPING"] == str(tmp_path.resolve() / "m.yaml")
    assert env["VENDZZ_MAINTENANCE_FILE"] == str(tmp_path / "run" / "maintenance")
