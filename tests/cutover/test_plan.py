"""The plan file and `--rollback-plan`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.cutover.helpers import make_source
from vendzz_migrate.cli import app
from vendzz_migrate.cutover import capture
from vendzz_migrate.cutover.journal import STEPS
from vendzz_migrate.cutover.plan import json_schema, load
from vendzz_migrate.cutover.rollback_plan import DOCS
from vendzz_migrate.errors import ConfigError
from vendzz_migrate.source import introspect as insp

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cutover" / "cutover.yaml"


def _example(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    path = tmp_path / "cutover.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_example_plan_loads_and_resolves_paths() -> None:
    plan = load(EXAMPLE)
    assert plan.source.is_absolute() and plan.source.resolve() == ROOT / "vendzz.db"
    assert plan.hooks.drain.kind == "http" and plan.budgets.max_freeze_seconds == 5
    assert plan.hooks.switch_to_pg.command is not None


def test_the_json_schema_file_is_current() -> None:
    stored = json.loads((ROOT / "schemas" / "cutover" / "plan.schema.json").read_text())
    assert stored == json_schema()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"freeze_budget": 3}, "freeze_budget: unknown field"),
        ({"budgets": {"max_freeze_second": 3}}, "budgets.max_freeze_second: unknown field"),
        (
            {
                "hooks": {
                    "freeze": {},
                    "unfreeze": {"file": {"path": "x"}},
                    "switch_to_pg": {"file": {"path": "y"}},
                    "switch_to_sqlite": {"file": {"path": "y"}},
                }
            },
            "hooks.freeze",
        ),
    ],
)
def test_a_bad_plan_names_the_field(tmp_path: Path, change: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load(_example(tmp_path, **change))


def test_cli_bad_plan_is_one_line_exit_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cutover", "--plan", str(_example(tmp_path, oops=1))])
    assert result.exit_code == 4 and "oops: unknown field" in result.output
    assert "Traceback" not in result.output


def test_rollback_plan_covers_every_step_and_touches_nothing(tmp_path: Path) -> None:
    source = make_source(tmp_path / "vendzz.db")
    capture.install(source, insp.DEFAULT_SKIP)
    plan_path = _example(
        tmp_path,
        source=str(source),
        work_dir=str(tmp_path / "work"),
        database_url="postgresql://alice:s3cret@127.0.0.1:1/none",
    )
    before = source.read_bytes()
    result = CliRunner().invoke(app, ["cutover", "--plan", str(plan_path), "--rollback-plan"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert (
        text
        == (tmp_path / "work" / "cutover-reference-service.rollback-plan.md").read_text() + "\n"
    )
    for step in STEPS:  # every step, what undoes it and its decision point
        start = f"| {STEPS.index(step) + 1} | {step} |"
        row = next(line for line in text.splitlines() if line.startswith(start))
        assert DOCS[step].undo in row and DOCS[step].decision in row
    for decision in ("verify", "budget", "smoke", "panic", "postpone", "--abort", "--rollback"):
        assert decision in text
    assert "s3cret" not in text and "alice" in text  # the password masked, the user shown
    assert "examples.service.ctl restart" in text  # the exact switch command
    assert "SQLite: 3 table(s), 330 row(s)" in text and "capture backlog: 0" in text
    assert "PostgreSQL" in text and source.read_bytes() == before
    conn = sqlite3.connect(source)
    assert capture.installed(conn)  # read only: still installed
    conn.close()
