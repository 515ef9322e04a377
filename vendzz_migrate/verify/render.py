"""verify's report as lines (the differences) and for CI (JUnit XML); the table for people
is :func:`vendzz_migrate.cli.render.verify_summary`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from vendzz_migrate.verify.model import Difference, Status, TableResult, VerifyReport

SHOWN = 20  # differences printed per table (all are in --json)


def _lines(t: TableResult) -> list[str]:
    shown = [d for d in t.differences if d.kind.value != "quarantined"][:SHOWN]
    lines = [f"{t.table}: {describe(d)}" for d in shown]
    hidden = t.missing + t.extra + t.changed - len(shown)
    if hidden > 0:
        lines.append(f"{t.table}: ... and {hidden:,} more difference(s) (see --json)")
    if t.quarantined:
        lines.append(f"{t.table}: {t.quarantined:,} row(s) quarantined in the rejects table")
    return lines


def describe(diff: Difference) -> str:
    key = json.dumps(diff.key, ensure_ascii=False, sort_keys=True)
    text = f"{diff.kind.value} {key}"
    if diff.columns:
        text += f" columns {', '.join(diff.columns)}"
    if diff.reason:
        text += f" ({diff.reason})"
    if diff.source is not None or diff.target is not None:
        text += (
            f" source={json.dumps(diff.source, ensure_ascii=False)}"
            f" target={json.dumps(diff.target, ensure_ascii=False)}"
        )
    return text


def junit(report: VerifyReport) -> str:
    """One testsuite for the data (a testcase per table), one for the schema checks."""
    root = ET.Element("testsuites", name=f"vendzz-migrate verify ({report.mode})")
    data = ET.SubElement(root, "testsuite", name="verify.data", tests=str(len(report.tables)))
    failures = 0
    for t in report.tables:
        case = ET.SubElement(
            data, "testcase", classname="verify.data", name=t.table, time=f"{t.seconds:.3f}"
        )
        failed = t.status is Status.MISMATCH or (report.strict and t.quarantined > 0)
        failures += failed
        body = "\n".join(_lines(t))
        if failed:
            failure = ET.SubElement(
                case,
                "failure",
                type=t.status.value,
                message=f"{t.missing} missing, {t.extra} extra, {t.changed} "
                f"changed, {t.quarantined} quarantined",
            )
            failure.text = body
        elif body:
            ET.SubElement(case, "system-out").text = body
    data.set("failures", str(failures))
    checks = ET.SubElement(
        root, "testsuite", name="verify.schema", tests=str(len(report.schema_checks))
    )
    bad = 0
    for check in report.schema_checks:
        case = ET.SubElement(
            checks, "testcase", classname=f"verify.schema.{check.kind}", name=check.object, time="0"
        )
        if check.status is Status.MISMATCH:
            bad += 1
            ET.SubElement(case, "failure", type="mismatch", message=check.detail)
        elif check.detail:
            ET.SubElement(case, "system-out").text = f"{check.status.value}: {check.detail}"
    checks.set("failures", str(bad))
    root.set("tests", str(len(report.tables) + len(report.schema_checks)))
    root.set("failures", str(failures + bad))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
