"""preflight: check the machine, the pools, PostgreSQL, Redis and the SQLite source against a
profile of the production spec, as a CI gate.

    from vendzz_migrate import preflight
    opts = preflight.PreflightOptions.from_settings(settings, profile="dev", source=path)
    report = preflight.run(opts)        # a failed gate raises PreflightFailed (its .report)
    report = preflight.run(opts.model_copy(update={"role": Role.POSTGRES}))  # on that machine
    report = preflight.run(opts.model_copy(update={"only": [Area.POOLS, Area.REDIS]}))
    fleet = preflight.merge([Path("app-1.json"), Path("postgres.json")])  # or FleetFailed
"""

from __future__ import annotations

from vendzz_migrate.preflight.areas import parse_areas
from vendzz_migrate.preflight.fleet import FleetReport, MachineReport, merge
from vendzz_migrate.preflight.host import HostFacts, read_host_facts
from vendzz_migrate.preflight.junit import render_fleet_junit, render_junit
from vendzz_migrate.preflight.model import Area, Check, PreflightReport, Status
from vendzz_migrate.preflight.profile import Profile, Role, load_profile
from vendzz_migrate.preflight.runner import PreflightOptions, run

__all__ = [
    "Area",
    "Check",
    "FleetReport",
    "HostFacts",
    "MachineReport",
    "PreflightOptions",
    "PreflightReport",
    "Profile",
    "Role",
    "Status",
    "load_profile",
    "merge",
    "parse_areas",
    "read_host_facts",
    "render_fleet_junit",
    "render_junit",
    "run",
]
