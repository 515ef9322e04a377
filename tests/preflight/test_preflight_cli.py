"""`vendzz-migrate preflight` end to end: exit codes, table, --json and --junit parsed back."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

from vendzz_migrate.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "s3cret-pw"


def with_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def source(tmp_path: Path, *, wal: bool = True) -> Path:
    path = tmp_path / ("wal.db" if wal else "rollback.db")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={'wal' if wal else 'delete'}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO t VALUES (1, 'a')")
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def env(pg_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": with_password(pg_url),
        "REDIS_URL": redis_url,
        "VENDZZ_WORK_DIR": str(tmp_path),
        "COLUMNS": "200",
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["preflight", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_dev_profile_passes_with_warnings_and_strict_fails(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = source(tmp_path)
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    code, stdout, _ = invoke(
        env,
        "--profile",
        "dev",
        "--source",
        str(db),
        "--json",
        str(out_json),
        "--junit",
        str(out_xml),
    )
    assert code == 0, stdout
    report = json.loads(out_json.read_text())
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["postgres.reachable"] == "pass"
    assert statuses["sqlite.journal_mode"] == "pass"
    assert "warn" in statuses.values()
    assert "fail" not in statuses.values()
    assert {"environment", "host", "pools", "postgres", "redis", "sqlite"} <= {
        c["area"] for c in report["checks"]
    }
    suites = ET.parse(out_xml).getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) == len(report["checks"])
    assert suites.get("failures") == "0"
    assert "preflight passed" in stdout
    assert "postgres" in stdout

    code, stdout, _ = invoke(
        env, "--profile", "dev", "--source", str(db), "--strict", "--junit", str(out_xml)
    )
    assert code == 10
    assert "preflight FAILED" in stdout
    failures = ET.parse(out_xml).getroot().findall(".//testcase/failure")
    assert failures
    assert {f.get("type") for f in failures} == {"warn"}


def test_failing_checks_exit_10_and_junit_has_failures(env: dict[str, str], tmp_path: Path) -> None:
    db = source(tmp_path, wal=False)
    out_xml = tmp_path / "r.xml"
    code, _, _ = invoke(
        env, "--profile", "production-1000", "--source", str(db), "--junit", str(out_xml)
    )
    assert code == 10
    root = ET.parse(out_xml).getroot()
    failed = {
        c.get("name", "").split(":")[0]
        for c in root.iter("testcase")
        if c.find("failure") is not None
    }
    assert "sqlite.journal_mode" in failed
    assert int(root.get("failures", "0")) == len(failed)
    assert sum(int(s.get("tests", "0")) for s in root.iter("testsuite")) == int(
        root.get("tests", "0")
    )
    assert int(root.get("tests", "0")) == len(list(root.iter("testcase")))


def test_json_to_stdout_is_only_json_and_no_password_anywhere(env: dict[str, str]) -> None:
    code, stdout, stderr = invoke(env, "--profile", "dev", "--json", "-")
    assert code == 0
    report = json.loads(stdout)
    assert report["profile"] == "dev"
    assert ":***@" in report["servers"]["postgres"]
    assert PASSWORD not in stdout + stderr
    code, stdout, stderr = invoke(env, "--profile", "dev")
    assert PASSWORD not in stdout + stderr


def test_could_not_run_codes(env: dict[str, str], tmp_path: Path) -> None:
    code, _, stderr = invoke(env, "--profile", "no-such-profile")
    assert code == 4
    assert "no profile named" in stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhosts: {}\n")
    code, _, stderr = invoke(env, "--profile", str(bad))
    assert code == 4
    assert "hosts" in stderr
    assert "Traceback" not in stderr
    code, _, stderr = invoke(env, "--profile", "dev", "--source", str(tmp_path / "absent.db"))
    assert code == 3
    assert "absent.db" in stderr


def test_profile_from_the_environment(env: dict[str, str]) -> None:
    code, stdout, _ = invoke({**env, "VENDZZ_PREFLIGHT_PROFILE": "dev"}, "--json", "-")
    assert code == 0
    assert json.loads(stdout)["profile"] == "dev"


@pytest.mark.parametrize("command", ["preflight", "provision"])
def test_help_and_readme(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--profile" in result.stdout
    assert f"### {command}" in README.read_text(encoding="utf-8")
