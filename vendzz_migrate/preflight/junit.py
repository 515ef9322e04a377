"""Preflight as JUnit XML: one ``<testsuite>`` per area, one ``<testcase>`` per check.

Failed checks are ``<failure>``. Warnings follow the gate: without ``--strict`` a warning is a
passing testcase whose ``<system-out>`` starts with ``WARN``; with ``--strict`` it is a
``<failure type="warning">``, so the CI view and the exit code always agree. A check or area not
run (its role, ``--only`` / ``--skip``, a server not given) is ``<skipped>`` with the reason.
A merged fleet (:func:`render_fleet_junit`) has one suite per machine and area.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendzz_migrate.preflight.model import Check, PreflightReport, Status
from vendzz_migrate.report import junit
from vendzz_migrate.report.junit import Case, Outcome, Suite

if TYPE_CHECKING:
    from vendzz_migrate.preflight.fleet import FleetReport

_COUNTERS: junit.Counters = ("failures", "errors", "skipped")


def _detail(check: Check) -> str:
    return f"measured: {check.measured}\nexpected: {check.expected}\nremedy: {check.remedy}"


def _case(check: Check, strict: bool, prefix: str) -> Case:
    classname = f"preflight.{prefix}{check.area.value}"
    name = f"{check.id}: {check.title}"
    if check.status is Status.SKIP:
        return Case(classname, name, outcome=Outcome("skipped", check.measured, text=check.remedy))
    if check.status is Status.FAIL or (strict and check.status is Status.WARN):
        message = f"{check.measured} (expected {check.expected})"
        failure = Outcome("failure", message, type=check.status.value, text=_detail(check))
        return Case(classname, name, outcome=failure)
    return Case(classname, name, out=f"{check.status.value.upper()}: {_detail(check)}")


def _suites(report: PreflightReport, prefix: str, strict: bool) -> list[Suite]:
    return [
        Suite(f"preflight.{prefix}{area.value}", [_case(c, strict, prefix) for c in checks], "0")
        for area, checks in report.by_area().items()
    ]


def render_junit(report: PreflightReport) -> str:
    name = f"vendzz-migrate preflight ({report.profile}, role {report.role.value})"
    suites = _suites(report, "", report.strict)
    return junit.render(name, suites, _COUNTERS, report.duration_s)


def render_fleet_junit(fleet: FleetReport) -> str:
    """Several machines' reports: suites ``preflight.<machine>.<role>.<area>``."""
    name = f"vendzz-migrate preflight ({len(fleet.reports)} reports)"
    suites = [
        suite
        for item in fleet.reports
        for suite in _suites(item.report, f"{item.label}.", item.report.strict or fleet.strict)
    ]
    return junit.render(name, suites, _COUNTERS, sum(i.report.duration_s for i in fleet.reports))
