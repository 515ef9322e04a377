"""`vendzz-migrate verify` through the CLI: exit codes, the table, --json, --junit, redaction."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from tests.verify.helpers import execute
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.sample.models import SampleStats

README = Path(__file__).resolve().parents[2] / "README.md"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["verify", *args])
    return result.exit_code, result.stdout, result.stderr


def test_clean_copy_exits_zero_with_a_table(
    dirty: SampleStats, copied: str, tmp_path: Path
) -> None:
    junit = tmp_path / "verify.xml"
    code, out, _ = _invoke(str(dirty.path), "--target", copied, "--junit", str(junit))
    assert code == 0, out
    assert "verify: everything matches" in out
    assert "quarantined" in out
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0"
    assert int(suites.get("tests") or 0) > len(dirty.tables)


def test_mismatch_exits_9_redacted_unless_show_values(
    dirty: SampleStats, copied: str, tmp_path: Path
) -> None:
    key = str(execute(copied, 'SELECT id FROM users ORDER BY id COLLATE "C" LIMIT 1')[0][0])
    execute(copied, "UPDATE users SET email = %s WHERE id = %s", ("secret@example.com", key))
    report = tmp_path / "report.json"
    junit = tmp_path / "verify.xml"
    code, out, err = _invoke(
        str(dirty.path),
        "--target",
        copied,
        "--json",
        str(report),
        "--junit",
        str(junit),
        "--tables",
        "users,quizzes",
    )
    assert code == ExitCode.MISMATCH
    assert "secret@example.com" not in out + report.read_text()
    assert key in out
    assert "changed" in out
    assert "differ" in err
    data = json.loads(report.read_text())
    users = next(t for t in data["tables"] if t["table"] == "users")
    assert users["differences"][-1]["key"] == {"id": key}
    assert users["differences"][-1]["columns"] == ["email"]
    assert [t["table"] for t in data["tables"]] == ["users", "quizzes"]
    root = ET.parse(junit).getroot()
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["users"]
    bad_checks = sum(c["status"] == "mismatch" for c in data["schema_checks"])
    assert int(root.get("failures", "-1")) == 1 + bad_checks
    assert int(root.get("tests", "-1")) == len(data["tables"]) + len(data["schema_checks"])
    code, out, _ = _invoke(
        str(dirty.path), "--target", copied, "--tables", "users", "--show-values", "--mode", "full"
    )
    assert code == ExitCode.MISMATCH
    assert "secret@example.com" in out


def test_json_to_stdout_and_counts_mode(dirty: SampleStats, copied: str) -> None:
    code, out, _ = _invoke(str(dirty.path), "--target", copied, "--mode", "counts", "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["mode"] == "counts"
    assert data["total"]["source_rows"] == sum(dirty.tables.values())


def test_bad_input_is_one_line_with_its_exit_code(
    dirty: SampleStats, copied: str, tmp_path: Path
) -> None:
    code, _, err = _invoke(str(tmp_path / "missing.db"), "--target", copied)
    assert code == ExitCode.SOURCE
    assert "no such file" in err
    code, _, err = _invoke(str(dirty.path), "--target", copied, "--tables", "nope")
    assert code == ExitCode.CONFIG
    assert "nope" in err
    code, _, err = _invoke(str(dirty.path), "--target", "postgresql://postgres@127.0.0.1:1/x")
    assert code == ExitCode.CONNECTION
    assert "Traceback" not in err


def test_help_and_readme() -> None:
    result = CliRunner().invoke(app, ["verify", "--help"])
    assert result.exit_code == 0
    assert "--mode" in result.stdout
    assert "### verify" in README.read_text(encoding="utf-8")
