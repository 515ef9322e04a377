"""JUnit XML for CI systems: one ``<testsuite>`` per area, one ``<testcase>`` per check.

Failed checks are ``<failure>``. Warnings follow the gate: without ``--strict`` a warning is a
passing testcase whose ``<system-out>`` starts with ``WARN``; with ``--strict`` it is a
``<failure type="warning">``, so the CI view and the exit code always agree. A check or area not
run (its role, ``--only`` / ``--skip``, a server not given) is ``<skipped>`` with the reason.
A merged fleet (:func:`render_fleet_junit`) has one suite per machine and area.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import TYPE_CHECKING

from vendzz_migrate.preflight.model import Check, PreflightReport, Status

if TYPE_CHECKING:
    from vendzz_migrate.preflight.fleet import FleetReport


def _detail(check: Check) -> str:
    return f"measured: {check.measured}\nexpected: {check.expected}\nremedy: {check.remedy}"


def _testcase(suite: ET.Element, check: Check, strict: bool, prefix: str) -> str:
    """Add one testcase; returns its outcome: ``failure``, ``skipped`` or ``passed``."""
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"preflight.{prefix}{check.area.value}",
        name=f"{check.id}: {check.title}",
        time="0",
    )
    if check.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=check.measured).text = check.remedy or None
        return "skipped"
    if check.status is Status.FAIL or (strict and check.status is Status.WARN):
        failure = ET.SubElement(
            case,
            "failure",
            type=check.status.value,
            message=f"{check.measured} (expected {check.expected})",
        )
        failure.text = _detail(check)
        return "failure"
    out = ET.SubElement(case, "system-out")
    out.text = f"{check.status.value.upper()}: {_detail(check)}"
    return "passed"


def _suites(root: ET.Element, report: PreflightReport, prefix: str, strict: bool) -> Counter[str]:
    totals: Counter[str] = Counter()
    for area, checks in report.by_area().items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"preflight.{prefix}{area.value}",
            tests=str(len(checks)),
            errors="0",
            time="0",
        )
        outcomes = Counter(_testcase(suite, c, strict, prefix) for c in checks)
        suite.set("failures", str(outcomes["failure"]))
        suite.set("skipped", str(outcomes["skipped"]))
        totals += outcomes
        totals["tests"] += len(checks)
    return totals


def _finish(root: ET.Element, totals: Counter[str], seconds: float) -> str:
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failure"]))
    root.set("skipped", str(totals["skipped"]))
    root.set("errors", "0")
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render_junit(report: PreflightReport) -> str:
    name = f"vendzz-migrate preflight ({report.profile}, role {report.role.value})"
    root = ET.Element("testsuites", name=name)
    return _finish(root, _suites(root, report, "", report.strict), report.duration_s)


def render_fleet_junit(fleet: FleetReport) -> str:
    """Several machines' reports: suites ``preflight.<machine>.<role>.<area>``."""
    root = ET.Element("testsuites", name=f"vendzz-migrate preflight ({len(fleet.reports)} reports)")
    totals: Counter[str] = Counter()
    for item in fleet.reports:
        prefix = f"{item.label}."
        totals += _suites(root, item.report, prefix, item.report.strict or fleet.strict)
    return _finish(root, totals, sum(i.report.duration_s for i in fleet.reports))
