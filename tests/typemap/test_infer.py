"""schema infer: a reviewable mapping that sqlite-to-pg then follows."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.copy.helpers import copy, rows, verified
from vendzz_migrate.cli import app
from vendzz_migrate.sample import generate
from vendzz_migrate.typemap import mapping as maps

runner = CliRunner()


def test_infer_edit_and_copy(pg_url: str, tmp_path: Path) -> None:
    stats = generate(tmp_path / "v.db", rows=800, seed=2, clean=True)
    out = tmp_path / "mapping.yaml"
    result = runner.invoke(
        app, ["schema", "infer", str(stats.path), "-o", str(out), "--snake-case"]
    )
    assert result.exit_code == 0, result.output
    mapping = maps.load(out)
    users = mapping.tables["users"]
    assert users.columns["createdAt"].convert == "timestamp"
    assert users.columns["createdAt"].rename == "created_at"
    assert "note" in out.read_text()
    # a reviewer skips a table and keeps one camelCase name
    data = yaml.safe_load(out.read_text())
    data["tables"]["credit_transactions"]["skip"] = True
    data["tables"]["users"]["columns"]["firstName"]["rename"] = None
    data["skip_tables"].append("lessons")
    out.write_text(yaml.safe_dump(data))
    report = copy(stats.path, pg_url, tmp_path, mapping_path=out)
    copied = {t.table for t in report.tables}
    assert "credit_transactions" not in copied and "lessons" not in copied
    cols = {
        c
        for (c,) in rows(
            pg_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
        )
    }
    assert {"firstName", "created_at", "is_blocked"} <= cols
    verified(stats.path, pg_url, mode="full")


def test_infer_refuses_to_overwrite(tmp_path: Path) -> None:
    stats = generate(tmp_path / "v.db", rows=500, seed=2, clean=True)
    out = tmp_path / "m.yaml"
    out.write_text("keep me")
    result = runner.invoke(app, ["schema", "infer", str(stats.path), "-o", str(out)])
    assert result.exit_code == 4 and "--force" in result.output
    assert out.read_text() == "keep me"
