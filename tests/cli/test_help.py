"""Every command has help text and an example in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from vendzz_migrate import __version__
from vendzz_migrate.cli import app

runner = CliRunner()
README = (Path(__file__).parents[2] / "README.md").read_text()


def commands() -> list[str]:
    root = get_command(app)
    names: list[str] = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    return sorted(names)


def test_all_commands_are_there() -> None:
    assert {
        "sqlite-to-pg",
        "schema infer",
        "verify",
        "warm-cache",
        "cache-stats",
        "preflight",
        "provision",
        "demo",
        "sample",
    } <= set(commands())


@pytest.mark.parametrize("command", commands())
def test_help_and_readme(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.splitlines()) > 4
    assert f"vendzz-migrate {command}" in README, f"README has no example of {command}"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
