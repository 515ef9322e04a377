"""Scenarios: the shipped ones load, the JSON schema is current, errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.loadtest.scenario import PACKAGED, Scenario, load_scenario

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_scenarios_load(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name and scenario.all_journeys()


def test_default_is_the_reference_service() -> None:
    scenario = load_scenario(None)
    paths = {s.path for j in scenario.all_journeys() for s in j.steps}
    assert {
        "/api/auth/login",
        "/api/quizzes/{quiz_id}",
        "/api/quizzes/{quiz_id}/responses",
        "/health",
    } <= paths


def test_url_list_becomes_get_journeys(tmp_path: Path) -> None:
    path = tmp_path / "u.yaml"
    path.write_text("name: u\nurls: [/a, 'http://127.0.0.1:1/b']\n")
    journeys = load_scenario(path).all_journeys()
    assert [(j.steps[0].method, j.steps[0].path, j.weight) for j in journeys] == [
        ("GET", "/a", 1),
        ("GET", "http://127.0.0.1:1/b", 1),
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\n", "(top level)"),
        ("name: x\nurls: [/a]\nthink_time: {min: 2, max: 1}\n", "think_time"),
        ("name: x\nurls: [/a]\nextra: 1\n", "extra"),
        ("name: x\njourneys: [{name: j, steps: [{path: /, weight: 2}]}]\n", "journeys.0.steps.0"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_json_schema_is_current() -> None:
    path = ROOT / "schemas" / "loadtest" / "scenario.schema.json"
    assert json.loads(path.read_text()) == Scenario.model_json_schema(by_alias=True), (
        "regenerate: python -m vendzz_migrate.loadtest.scenario > "
        "schemas/loadtest/scenario.schema.json"
    )


def test_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario("/nonexistent/scenario.yaml")
