"""`preflight --merge`: several machines' JSON reports as one table and the worst exit code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.preflight.helpers import checked
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ConfigError, FleetFailed
from vendzz_migrate.preflight import Area, HostFacts, PreflightReport, Status, merge
from vendzz_migrate.settings import Settings

GIB = 1024**3


def report(
    hostname: str, role: str, cores: int, ram_gb: int, profile: str = "production-1000"
) -> PreflightReport:
    """A real report of injected host facts (host area only)."""
    facts = HostFacts(
        hostname=hostname,
        cores=cores,
        ram_bytes=ram_gb * GIB,
        data_path="/data",
        disk_free_bytes=500 * GIB,
        rotational=False,
        nic_mbps=10000,
    )
    settings = Settings(database_url=None, redis_url=None)
    return checked(settings, profile, role=role, only=[Area.HOST], host=facts)


def write(tmp_path: Path, name: str, rep: PreflightReport) -> Path:
    path = tmp_path / name
    path.write_text(rep.model_dump_json(indent=2), encoding="utf-8")
    return path


@pytest.fixture
def fleet_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "app-1": write(tmp_path, "app-1.json", report("app-1", "app", 8, 16)),  # pass
        "app-2": write(tmp_path, "app-2.json", report("app-2", "app", 4, 8)),  # warnings
        "pg": write(tmp_path, "pg.json", report("db-1", "postgres", 8, 32)),  # pass
        "pg-small": write(tmp_path, "pg-small.json", report("db-2", "postgres", 8, 4)),  # fails
    }


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["preflight", *args], env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_library_merge_takes_the_worst_code(fleet_files: dict[str, Path]) -> None:
    good = merge([fleet_files["app-1"], fleet_files["app-2"], fleet_files["pg"]])
    assert good.passed
    assert good.exit_code == 0
    assert [i.label for i in good.reports] == ["app-1/app", "app-2/app", "db-1/postgres"]
    with pytest.raises(FleetFailed) as strict:
        merge([fleet_files["app-1"], fleet_files["app-2"]], strict=True)
    assert strict.value.exit_code == strict.value.report.exit_code == 10
    with pytest.raises(FleetFailed) as caught:
        merge(fleet_files.values())
    bad = caught.value.report
    assert bad.exit_code == 10
    assert [i.label for i in bad.failed] == ["db-2/postgres"]


def test_cli_merge_one_table_json_and_junit(fleet_files: dict[str, Path], tmp_path: Path) -> None:
    out_json, out_xml = tmp_path / "fleet.json", tmp_path / "fleet.xml"
    files = [str(p) for p in fleet_files.values()]
    code, stdout, _ = invoke("--merge", *files, "--json", str(out_json), "--junit", str(out_xml))
    assert code == 10
    for label in ("app-1/app", "app-2/app", "db-1/postgres", "db-2/postgres"):
        assert label in stdout
    assert "fleet preflight FAILED (db-2/postgres): 4 reports, exit 10" in stdout
    assert stdout.count("preflight: 4 machines") == 1  # one table
    fleet = json.loads(out_json.read_text())
    assert fleet["exit_code"] == 10
    assert fleet["passed"] is False
    assert [r["report"]["machine"] for r in fleet["reports"]] == ["app-1", "app-2", "db-1", "db-2"]
    root = ET.parse(out_xml).getroot()
    failed = [
        (case.get("classname"), case.get("name", "").split(":")[0])
        for case in root.iter("testcase")
        if case.find("failure") is not None
    ]
    assert failed == [("preflight.db-2/postgres.host", "host.ram")]
    names = {s.get("name") for s in root.iter("testsuite")}
    assert "preflight.app-2/app.host" in names
    assert "preflight.db-1/postgres.sqlite" in names  # its skipped areas are there too
    skipped = int(root.get("skipped", "0"))
    assert skipped == sum(
        1 for r in fleet["reports"] for c in r["report"]["checks"] if c["status"] == "skip"
    )


def test_cli_merge_passes_when_every_report_passes(fleet_files: dict[str, Path]) -> None:
    files = [str(fleet_files[k]) for k in ("app-1", "app-2", "pg")]
    code, stdout, _ = invoke("--merge", *files)
    assert code == 0
    assert "fleet preflight passed: 3 reports, exit 0" in stdout
    code, stdout, _ = invoke("--merge", *files, "--strict")
    assert code == 10  # app-2's warnings fail under --strict
    assert "FAILED (app-2/app)" in stdout


def test_a_report_written_by_the_cli_merges(tmp_path: Path, pg_url: str) -> None:
    out = tmp_path / "net.json"
    env = {"DATABASE_URL": pg_url, "REDIS_URL": "", "COLUMNS": "200"}
    result = CliRunner().invoke(
        app, ["preflight", "--profile", "dev", "--only", "postgres", "--json", str(out)], env=env
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    fleet = merge([out])
    assert fleet.exit_code == 0
    assert fleet.reports[0].report.skipped_areas[Area.HOST].startswith("not chosen")
    assert any(c.status is Status.PASS for c in fleet.reports[0].report.checks)


def test_the_same_report_twice_is_refused_not_counted_twice(
    fleet_files: dict[str, Path], tmp_path: Path
) -> None:
    pg = fleet_files["pg"]
    copied = tmp_path / "copy-of-pg.json"
    copied.write_bytes(pg.read_bytes())
    for files, why in (
        ([pg, fleet_files["app-1"], pg], "pg.json is given twice"),
        ([pg, tmp_path / "." / "pg.json"], "pg.json is given twice"),
        ([pg, copied], "copy-of-pg.json holds the same report as"),
    ):
        with pytest.raises(ConfigError, match=why):
            merge(files)
        code, stdout, stderr = invoke("--merge", *map(str, files))
        assert code == 4 and why in stderr and "Traceback" not in stdout + stderr
    # another run on the same machine and role is another report: kept, told apart by file
    again = write(tmp_path, "pg-again.json", report("db-1", "postgres", 8, 32))
    labels = [i.label for i in merge([pg, again]).reports]
    assert labels == ["db-1/postgres:pg.json", "db-1/postgres:pg-again.json"]


def test_reports_of_different_profiles_are_refused(
    fleet_files: dict[str, Path], tmp_path: Path
) -> None:
    """A machine checked against dev in a production gate would pass it by a lower bar."""
    lenient = write(tmp_path, "app-3.json", report("app-3", "app", 8, 16, profile="dev"))
    with pytest.raises(ConfigError, match="different profiles"):
        merge([fleet_files["app-1"], lenient])
    code, _, stderr = invoke("--merge", str(fleet_files["app-1"]), str(lenient))
    assert code == 4 and "app-3.json: dev" in stderr and "production-1000" in stderr


@pytest.mark.parametrize(
    "flags",
    [
        ["--profile", "dev"],
        ["--role", "postgres"],
        ["--only", "host"],
        ["--skip", "redis"],
        ["--source", "x.db"],
        ["--target", "postgresql://u@h/d"],
        ["--redis", "redis://h"],
        ["--pgbouncer-admin", "postgresql://u@h:6432/pgbouncer"],
        ["--app-instances", "3"],
    ],
)
def test_checking_options_with_merge_are_refused(
    fleet_files: dict[str, Path], flags: list[str]
) -> None:
    code, stdout, stderr = invoke("--merge", str(fleet_files["pg"]), *flags)
    assert code == 2
    said = " ".join((stdout + stderr).split())
    assert flags[0] in said and "--merge only reads reports" in said
    assert "Traceback" not in stdout + stderr


def test_merge_takes_the_profile_from_the_environment_silently(
    fleet_files: dict[str, Path],
) -> None:
    """The CI gate job runs with VENDZZ_PREFLIGHT_PROFILE set for every job: not a flag."""
    result = CliRunner().invoke(
        app,
        ["preflight", "--merge", str(fleet_files["pg"])],
        env={"COLUMNS": "250", "VENDZZ_PREFLIGHT_PROFILE": "dev"},
    )
    assert result.exit_code == 0, result.stdout + result.stderr


def test_unreadable_or_foreign_reports_are_config_errors(
    fleet_files: dict[str, Path], tmp_path: Path
) -> None:
    code, _, stderr = invoke("--merge", str(fleet_files["pg"]), str(tmp_path / "absent.json"))
    assert code == 4
    assert "absent.json: cannot read it" in stderr
    foreign = tmp_path / "other.json"
    foreign.write_text('{"tables": []}')
    code, _, stderr = invoke("--merge", str(foreign))
    assert code == 4
    assert "not a preflight --json report (profile" in stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, _, stderr = invoke("--merge", str(broken))
    assert code == 4
    assert "not JSON" in stderr
    code, stdout, stderr = invoke(str(fleet_files["pg"]))
    assert code == 2
    assert "only read with --merge" in stdout + stderr
    code, stdout, stderr = invoke("--merge")
    assert code == 2
    assert "at least one report" in " ".join((stdout + stderr).split())
    assert "Traceback" not in stdout + stderr
