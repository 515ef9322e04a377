"""``loadtest``: the spec's staged load (100 / 500 / 1,000 users) or an open arrival rate,
driven by Locust in child processes and judged against a profile's targets."""

from __future__ import annotations

from vendzz_migrate.loadtest.model import LoadtestReport, Point, StageResult, Verdict
from vendzz_migrate.loadtest.runner import LoadtestError, Options, run, run_worker
from vendzz_migrate.loadtest.scenario import Scenario, load_scenario

__all__ = [
    "LoadtestError",
    "LoadtestReport",
    "Options",
    "Point",
    "Scenario",
    "StageResult",
    "Verdict",
    "load_scenario",
    "run",
    "run_worker",
]
