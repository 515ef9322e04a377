"""verify's report as lines (the differences) and for CI (JUnit XML); the table for people
is :func:`vendzz_migrate.cli.render.verify_summary`."""

from __future__ import annotations

import json

from vendzz_migrate.report.junit import Case, Outcome, Suite, seconds
from vendzz_migrate.report.junit import render as render_junit
from vendzz_migrate.verify.model import (
    Difference,
    SchemaCheck,
    Status,
    TableResult,
    VerifyReport,
)

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
    data = [_table_case(t, report.strict) for t in report.tables]
    schema = [_schema_case(check) for check in report.schema_checks]
    suites = [Suite("verify.data", data), Suite("verify.schema", schema)]
    return render_junit(f"vendzz-migrate verify ({report.mode})", suites, ("failures",))


def _table_case(t: TableResult, strict: bool) -> Case:
    body = "\n".join(_lines(t))
    if t.status is Status.MISMATCH or (strict and t.quarantined > 0):
        message = (
            f"{t.missing} missing, {t.extra} extra, {t.changed} changed, "
            f"{t.quarantined} quarantined"
        )
        failure = Outcome("failure", message, type=t.status.value, text=body)
        return Case("verify.data", t.table, seconds(t.seconds), outcome=failure)
    return Case("verify.data", t.table, seconds(t.seconds), out=body)


def _schema_case(check: SchemaCheck) -> Case:
    classname = f"verify.schema.{check.kind}"
    if check.status is Status.MISMATCH:
        failure = Outcome("failure", check.detail, type="mismatch")
        return Case(classname, check.object, outcome=failure)
    out = f"{check.status.value}: {check.detail}" if check.detail else None
    return Case(classname, check.object, out=out)
