"""preflight: check the machine, the pools, PostgreSQL, Redis and the SQLite source against a
profile of the production spec, as a CI gate.

    from vendzz_migrate import preflight
    report = preflight.run(settings, profile="dev", source=Path("vendzz.db"))
    report.passed, report.exit_code, report.checks
"""

from __future__ import annotations

from vendzz_migrate.preflight.host import HostFacts, read_host_facts
from vendzz_migrate.preflight.junit import render_junit
from vendzz_migrate.preflight.model import Area, Check, PreflightReport, Status
from vendzz_migrate.preflight.profile import Profile, load_profile
from vendzz_migrate.preflight.runner import run

__all__ = [
    "Area",
    "Check",
    "HostFacts",
    "PreflightReport",
    "Profile",
    "Status",
    "load_profile",
    "read_host_facts",
    "render_junit",
    "run",
]
