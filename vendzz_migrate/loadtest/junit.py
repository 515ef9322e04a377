"""Load test as JUnit XML: one ``<testcase>`` per stage and target; a missed target is a
``<failure>``, a saturated generator or an empty stage an ``<error>`` (nothing was measured)."""

from __future__ import annotations

from vendzz_migrate.loadtest.model import LoadtestReport, StageResult
from vendzz_migrate.report import junit
from vendzz_migrate.report.junit import Case, Outcome, Suite


def _label(stage: StageResult) -> str:
    return f"{stage.users} users" if stage.users is not None else f"{stage.rate:g} per s"


def _suite(stage: StageResult) -> Suite:
    classname = f"loadtest.{_label(stage)}"
    cases = []
    for v in stage.verdicts:
        outcome = None
        if v.passed is None:
            outcome = Outcome("skipped", "not measured")
        elif not v.passed:
            outcome = Outcome("failure", f"{v.measured} (expected {v.expected})", type="target")
        cases.append(Case(classname, v.name, outcome=outcome))
    if stage.saturated or stage.requests == 0 or stage.interrupted:
        reason = "; ".join(stage.notes) or "no request was measured"
        error = Outcome("error", reason, type="measurement")
        cases.append(Case(classname, "measurement", outcome=error))
    return Suite(f"loadtest.stage{stage.index + 1}", cases, junit.seconds(stage.duration_s))


def render_junit(report: LoadtestReport) -> str:
    name = f"vendzz-migrate loadtest ({report.profile})"
    suites = [_suite(stage) for stage in report.stages]
    return junit.render(name, suites, ("failures", "errors"), report.duration_s)
