"""`vendzz-migrate sample` through the real Typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def test_writes_and_renders(tmp_path: Path) -> None:
    out = tmp_path / "s.db"
    report = tmp_path / "s.json"
    result = CliRunner().invoke(
        app, ["sample", str(out), "--rows", "400", "--seed", "9", "--json", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "quiz_responses" in result.stdout
    assert "total" in result.stdout
    data = json.loads(report.read_text())
    assert data["seed"] == 9
    assert data["clean"] is False
    assert data["traps"]
    assert out.read_bytes()[:15] == b"SQLite format 3"


def test_refuses_overwrite_then_forces(tmp_path: Path) -> None:
    out = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(app, ["sample", str(out), "--rows", "300", "--clean"]).exit_code == 0
    again = runner.invoke(app, ["sample", str(out), "--rows", "300"])
    assert again.exit_code == ExitCode.CONFIG
    assert "--force" in again.output
    forced = runner.invoke(app, ["sample", str(out), "--rows", "300", "--force", "--no-wal"])
    assert forced.exit_code == 0, forced.output


def test_help_and_readme() -> None:
    result = CliRunner().invoke(app, ["sample", "--help"])
    assert result.exit_code == 0
    assert "--clean" in result.output
    assert "--no-wal" in result.output
    assert "### sample" in (ROOT / "README.md").read_text()


def test_example_script(tmp_path: Path) -> None:
    out = tmp_path / "e.db"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "generate.py"),
            str(out),
            "--rows",
            "300",
            "--clean",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "total" in done.stdout
    assert out.exists()
    again = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "generate.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == ExitCode.CONFIG
