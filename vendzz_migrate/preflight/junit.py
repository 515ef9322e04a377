"""JUnit XML for CI systems: one ``<testsuite>`` per area, one ``<testcase>`` per check.

Failed checks are ``<failure>``. Warnings follow the gate: without ``--strict`` a warning is a
passing testcase whose ``<system-out>`` starts with ``WARN``; with ``--strict`` it is a
``<failure type="warning">``, so the CI view and the exit code always agree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vendzz_migrate.preflight.model import Check, PreflightReport, Status


def _detail(check: Check) -> str:
    return f"measured: {check.measured}\nexpected: {check.expected}\nremedy: {check.remedy}"


def _testcase(suite: ET.Element, check: Check, strict: bool) -> bool:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"preflight.{check.area.value}",
        name=f"{check.id}: {check.title}",
        time="0",
    )
    failed = check.status is Status.FAIL or (strict and check.status is Status.WARN)
    if failed:
        failure = ET.SubElement(
            case,
            "failure",
            type=check.status.value,
            message=f"{check.measured} (expected {check.expected})",
        )
        failure.text = _detail(check)
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"{check.status.value.upper()}: {_detail(check)}"
    return failed


def render_junit(report: PreflightReport) -> str:
    root = ET.Element("testsuites", name=f"vendzz-migrate preflight ({report.profile})")
    total = failures = 0
    for area, checks in report.by_area().items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"preflight.{area.value}",
            tests=str(len(checks)),
            errors="0",
            skipped="0",
            time="0",
        )
        failed = sum(_testcase(suite, c, report.strict) for c in checks)
        suite.set("failures", str(failed))
        total, failures = total + len(checks), failures + failed
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
