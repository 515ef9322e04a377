"""JUnit XML: one ``<testcase>`` per stage and target; a missed target is a ``<failure>``,
a saturated generator or an empty stage an ``<error>`` (nothing was measured)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vendzz_migrate.loadtest.model import LoadtestReport, StageResult


def _label(stage: StageResult) -> str:
    return f"{stage.users} users" if stage.users is not None else f"{stage.rate:g} per s"


def render_junit(report: LoadtestReport) -> str:
    root = ET.Element("testsuites", name=f"vendzz-migrate loadtest ({report.profile})")
    total = failures = errors = 0
    for stage in report.stages:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"loadtest.stage{stage.index + 1}",
            time=f"{stage.duration_s:.3f}",
        )
        cases = fails = errs = 0
        for v in stage.verdicts:
            case = ET.SubElement(
                suite, "testcase", classname=f"loadtest.{_label(stage)}", name=v.name, time="0"
            )
            cases += 1
            if v.passed is None:
                ET.SubElement(case, "skipped", message="not measured")
            elif not v.passed:
                fails += 1
                ET.SubElement(
                    case, "failure", type="target", message=f"{v.measured} (expected {v.expected})"
                )
        if stage.saturated or stage.requests == 0 or stage.interrupted:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"loadtest.{_label(stage)}",
                name="measurement",
                time="0",
            )
            cases += 1
            errs += 1
            reason = "; ".join(stage.notes) or "no request was measured"
            ET.SubElement(case, "error", type="measurement", message=reason)
        suite.set("tests", str(cases))
        suite.set("failures", str(fails))
        suite.set("errors", str(errs))
        total, failures, errors = total + cases, failures + fails, errors + errs
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
