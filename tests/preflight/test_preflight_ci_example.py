"""examples/ci/preflight.yml: parsed as YAML, its shape checked, and its preflight commands run
with bash (as a GitHub runner would) against the test servers, then merged by its gate job."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from vendzz_migrate.preflight.profile import packaged_text

WORKFLOW = Path(__file__).resolve().parents[2] / "examples/ci/preflight.yml"
MACHINE_JOBS = ("app", "postgres", "redis", "network")
EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def matrix_runs(job: dict[str, Any]) -> list[dict[str, str]]:
    """The matrix combinations of a job (``include`` entries, or one axis), or one empty run."""
    matrix = job.get("strategy", {}).get("matrix")
    if not matrix:
        return [{}]
    if "include" in matrix:
        return [dict(entry) for entry in matrix["include"]]
    ((axis, values),) = matrix.items()
    return [{axis: value} for value in values]


def substitute(text: str, context: dict[str, str]) -> str:
    """GitHub's ``${{ ... }}`` for the expressions the example uses; an unknown one fails."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        assert expr in context or expr.startswith("matrix."), f"unexpected expression {expr}"
        return context.get(expr, "")

    return EXPR.sub(one, text)


def preflight_step(job: dict[str, Any]) -> str:
    steps = [s for s in job["steps"] if "vendzz-migrate preflight" in s.get("run", "")]
    assert len(steps) == 1
    return str(steps[0]["run"])


def run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Like a runner: ``bash -e -o pipefail``, with this venv's vendzz-migrate on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={**env, "PATH": path, "HOME": str(cwd), "COLUMNS": "160", "NO_COLOR": "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_workflow_shape() -> None:
    wf = workflow()
    jobs = wf["jobs"]
    assert set(jobs) == {*MACHINE_JOBS, "gate"}
    assert wf["env"]["VENDZZ_PREFLIGHT_PROFILE"] == "production-1000"
    for name in ("app", "postgres", "redis"):
        labels = jobs[name]["runs-on"]
        assert labels[0] == "self-hosted"
        assert labels[1].startswith(("vendzz-", "${{ matrix.machine }}"))
    assert [m["machine"] for m in matrix_runs(jobs["app"])] == [
        "vendzz-app-1",
        "vendzz-app-2",
        "vendzz-app-3",
    ]
    assert "--only pools,postgres,redis" in preflight_step(jobs["network"])
    assert "--role postgres" in preflight_step(jobs["postgres"])
    assert "--role redis" in preflight_step(jobs["redis"])
    for name in MACHINE_JOBS:
        steps = jobs[name]["steps"]
        published = [s for s in steps if "report_paths" in s.get("with", {})]
        kept = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
        assert published and published[0]["if"] == "always()"
        assert kept and kept[0]["if"] == "always()"
    gate = jobs["gate"]
    assert gate["needs"] == list(MACHINE_JOBS)
    assert gate["if"] == "always()"
    assert any("report_paths" in s.get("with", {}) for s in gate["steps"])
    comments = WORKFLOW.read_text(encoding="utf-8")
    for label in ("vendzz-app-1", "vendzz-postgres", "vendzz-redis-1", "vendzz-network"):
        assert re.search(rf"^#.*{label}", comments, re.MULTILINE), f"label {label} not explained"


def test_every_job_passed_step_fails_on_any_other_result(tmp_path: Path) -> None:
    step = next(s for s in workflow()["jobs"]["gate"]["steps"] if "RESULTS" in s.get("env", {}))
    assert step["if"] == "always()"
    assert "needs.*.result" in step["env"]["RESULTS"]
    for results, code in (("success success success success", 0), ("success failure", 1)):
        assert run_step(step["run"], {"RESULTS": results}, tmp_path).returncode == code
    assert run_step(step["run"], {"RESULTS": "success cancelled"}, tmp_path).returncode == 1


@pytest.fixture
def source_db(tmp_path: Path) -> Path:
    path = tmp_path / "vendzz.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'a@example.com')")
    conn.commit()
    conn.close()
    return path


def run_fleet(
    tmp_path: Path,
    context: dict[str, str],
    source: Path,
    profile: str,
    jobs: tuple[str, ...] = MACHINE_JOBS,
) -> tuple[Path, dict[str, int]]:
    """Run the machine jobs' preflight steps, each in its own directory (its own runner), and
    gather their JSON reports where the gate job's download-artifact puts them."""
    wf = workflow()
    reports = tmp_path / "gate" / "reports"
    reports.mkdir(parents=True)
    codes: dict[str, int] = {}
    for name in jobs:
        job = wf["jobs"][name]
        for combo in matrix_runs(job):
            if "source" in combo:
                combo["source"] = str(source)  # the live file's path on the machine holding it
            ctx = {**context, **{f"matrix.{k}": str(v) for k, v in combo.items()}}
            env = {k: substitute(str(v), ctx) for k, v in {**wf["env"], **job["env"]}.items()}
            env["VENDZZ_PREFLIGHT_PROFILE"] = profile
            cwd = tmp_path / "runners" / env["MACHINE"]
            cwd.mkdir(parents=True)
            env["VENDZZ_WORK_DIR"] = str(cwd)
            done = run_step(substitute(preflight_step(job), ctx), env, cwd)
            codes[env["MACHINE"]] = done.returncode
            assert done.returncode in (0, 10), done.stdout + done.stderr
            assert (cwd / f"preflight-{env['MACHINE']}-junit.xml").is_file()
            shutil.copy(cwd / f"preflight-{env['MACHINE']}.json", reports)
    return reports.parent, codes


def gate(gate_dir: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    step = next(s for s in workflow()["jobs"]["gate"]["steps"] if "--merge" in s.get("run", ""))
    done = run_step(step["run"], {}, gate_dir)
    assert (gate_dir / "preflight-fleet-junit.xml").is_file()
    return done, json.loads((gate_dir / "preflight-fleet.json").read_text())


@pytest.fixture
def context(pg_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    app_env = tmp_path / "vendzz.env"
    app_env.write_text(f"DATABASE_URL={pg_url}\nREDIS_URL={redis_url}\n", encoding="utf-8")
    return {
        "vars.VENDZZ_APP_ENV_FILE": str(app_env),
        "secrets.DATABASE_URL": pg_url,
        "secrets.REDIS_URL": redis_url,
        "secrets.REDIS_LOCAL_URL": redis_url,
        "secrets.PGBOUNCER_ADMIN_URL": "",
    }


def test_the_example_runs_against_the_test_servers(
    tmp_path: Path, context: dict[str, str], source_db: Path
) -> None:
    gate_dir, codes = run_fleet(tmp_path, context, source_db, "dev")
    assert codes == dict.fromkeys(codes, 0)
    assert len(codes) == 8  # 3 app servers, PostgreSQL, 3 Redis nodes, the network job
    done, fleet = gate(gate_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fleet preflight passed: 8 reports, exit 0" in done.stdout
    by_file = {Path(r["file"]).name: r["report"] for r in fleet["reports"]}
    app1, app2 = by_file["preflight-vendzz-app-1.json"], by_file["preflight-vendzz-app-2.json"]
    assert {c["id"]: c["status"] for c in app1["checks"]}["sqlite.journal_mode"] == "pass"
    assert {c["id"]: c["status"] for c in app1["checks"]}["environment.database_url"] == "pass"
    assert app2["skipped_areas"]["sqlite"] == "not run: no SQLite file was given (--source)"
    assert by_file["preflight-vendzz-postgres.json"]["role"] == "postgres"
    assert set(by_file["preflight-vendzz-redis-2.json"]["skipped_areas"]) == {
        "environment",
        "pools",
        "postgres",
        "sqlite",
    }
    network = by_file["preflight-network.json"]
    assert set(network["skipped_areas"]) == {"environment", "host", "sqlite"}


def test_one_failing_machine_fails_the_gate(
    tmp_path: Path, context: dict[str, str], source_db: Path
) -> None:
    """A profile whose PostgreSQL machine needs more RAM than any: that job and the gate fail."""
    text = packaged_text("dev").replace(
        "  postgres:\n    host:\n      cores: {min: 1}\n      ram_gb: {min: 1}",
        "  postgres:\n    host:\n      cores: {min: 1}\n      ram_gb: {min: 100000}",
    )
    assert "100000" in text
    profile = tmp_path / "team.yaml"
    profile.write_text(text, encoding="utf-8")
    gate_dir, codes = run_fleet(tmp_path, context, source_db, str(profile), ("postgres", "redis"))
    assert codes.pop("vendzz-postgres") == 10
    assert codes == dict.fromkeys(["vendzz-redis-1", "vendzz-redis-2", "vendzz-redis-3"], 0)
    done, fleet = gate(gate_dir)
    assert done.returncode == 10
    assert fleet["exit_code"] == 10
    assert "FAILED (" in done.stdout
    assert "/postgres" in done.stdout.split("FAILED (")[1]
