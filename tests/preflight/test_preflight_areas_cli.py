"""`preflight --role/--only/--skip` through the CLI: every area not run is listed as skipped in
the table, the JSON and the JUnit, never silently absent; bad values get a one-line reason."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vendzz_migrate.cli import app

AREAS = {"environment", "host", "pools", "postgres", "redis", "sqlite"}


@pytest.fixture
def env(pg_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "VENDZZ_WORK_DIR": str(tmp_path),
        "VENDZZ_PREFLIGHT_PROFILE": "dev",
        "COLUMNS": "250",
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["preflight", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def outputs(
    env: dict[str, str], tmp_path: Path, *args: str
) -> tuple[str, dict[str, Any], ET.Element]:
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    code, stdout, stderr = invoke(env, *args, "--json", str(out_json), "--junit", str(out_xml))
    assert code == 0, stdout + stderr
    return stdout, json.loads(out_json.read_text()), ET.parse(out_xml).getroot()


def skipped_in_junit(root: ET.Element) -> dict[str, str]:
    return {
        case.get("name", "").split(":")[0]: skipped.get("message", "")
        for case in root.iter("testcase")
        if (skipped := case.find("skipped")) is not None
    }


def assert_listed_as_skipped(
    stdout: str, report: dict[str, Any], junit: ET.Element, area: str, why: str
) -> None:
    assert report["skipped_areas"][area] == why
    ids = {c["id"]: c for c in report["checks"]}
    assert ids[f"{area}.skipped"]["status"] == "skip"
    assert ids[f"{area}.skipped"]["measured"] == why
    assert not [c for c in report["checks"] if c["area"] == area and c["status"] != "skip"]
    assert skipped_in_junit(junit)[f"{area}.skipped"] == why
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in stdout.splitlines()]
    heading = rows.index([area, "", "", "", ""])
    status, check, measured = rows[heading + 1][:3]
    assert (status, check) == ("SKIP", "area not run")
    assert len(measured) >= 10
    assert why.startswith(measured)


def test_only_runs_the_chosen_areas_and_lists_the_rest(env: dict[str, str], tmp_path: Path) -> None:
    stdout, report, junit = outputs(env, tmp_path, "--only", "pools,postgres", "--only", "redis")
    ran = {c["area"] for c in report["checks"] if c["status"] != "skip"}
    assert ran == {"pools", "postgres", "redis"}
    for area in ("environment", "host", "sqlite"):
        why = "not chosen (--only pools,postgres,redis)"
        assert_listed_as_skipped(stdout, report, junit, area, why)
    suites = {s.get("name"): s for s in junit.iter("testsuite")}
    assert {f"preflight.{a}" for a in AREAS} == set(suites)
    assert suites["preflight.host"].get("skipped") == "1"
    assert int(junit.get("skipped", "0")) == sum(
        1 for c in report["checks"] if c["status"] == "skip"
    )
    assert "skip" in stdout.splitlines()[-1]


def test_skip_leaves_areas_out_and_says_so(env: dict[str, str], tmp_path: Path) -> None:
    stdout, report, junit = outputs(env, tmp_path, "--skip", "host", "--skip", "redis,environment")
    for area in ("host", "redis", "environment"):
        assert_listed_as_skipped(stdout, report, junit, area, f"left out (--skip {area})")
    assert {c["area"] for c in report["checks"] if c["status"] == "pass"} == {"pools", "postgres"}
    assert report["role"] == "app"
    assert report["passed"] is True
    assert report["exit_code"] == 0


def test_role_redis_in_every_format(env: dict[str, str], tmp_path: Path) -> None:
    stdout, report, junit = outputs(env, tmp_path, "--role", "redis")
    assert report["role"] == "redis"
    assert "role redis" in stdout
    assert "role redis" in junit.get("name", "")
    for area in ("environment", "pools", "postgres", "sqlite"):
        why = report["skipped_areas"][area]
        assert why.startswith("not run for role redis: ")
        assert_listed_as_skipped(stdout, report, junit, area, why)
    ran = {c["id"] for c in report["checks"] if c["status"] != "skip"}
    assert {"host.ram", "redis.reachable", "redis.aof"} <= ran


def test_json_to_stdout_lists_the_skips(env: dict[str, str]) -> None:
    code, stdout, _ = invoke(env, "--role", "postgres", "--json", "-")
    assert code == 0
    report = json.loads(stdout)
    assert set(report["skipped_areas"]) == {"environment", "pools", "redis", "sqlite"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--only", "host,disks"], 2, "unknown area 'disks'"),
        (["--role", "cache"], 2, "'cache' is not one of app, postgres, redis"),
        (["--role", "redis", "--only", "sqlite"], 4, "--only sqlite: not run for role redis"),
        (["--only", "host", "--skip", "host"], 4, "nothing left to check"),
        (["--only", "sqlite"], 4, "--only sqlite: no SQLite file was given"),
    ],
)
def test_bad_choices_get_one_line_and_their_code(
    env: dict[str, str], args: list[str], code: int, message: str
) -> None:
    got, stdout, stderr = invoke(env, *args)
    assert got == code, stdout + stderr
    assert message in " ".join((stdout + stderr).split())
    assert "Traceback" not in stdout + stderr


def test_role_without_its_server_is_refused(env: dict[str, str]) -> None:
    bare = {**env, "DATABASE_URL": ""}
    code, _, stderr = invoke(bare, "--role", "postgres")
    assert code == 4
    assert "--role postgres: no PostgreSQL URL was given" in stderr
