"""Rendering the copy's and verify's reports for people (rich tables on stdout)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from vendzz_migrate import console
from vendzz_migrate.report.copy import CopyReport
from vendzz_migrate.verify.model import Status, VerifyReport
from vendzz_migrate.verify.render import _lines as difference_lines


def copy_summary(report: CopyReport) -> None:
    title = "sqlite-to-pg plan (dry run)" if report.dry_run else f"sqlite-to-pg {report.run_id}"
    table = Table(title=title, title_justify="left")
    for header in ("table", "target", "source rows", "copied", "rejected", "converted", "time"):
        table.add_column(header, justify="left" if header in ("table", "target") else "right")
    for t in report.tables:
        target = t.target if t.target != t.table else ""
        rejected = f"[red]{t.rejected_rows:,}[/red]" if t.rejected_rows else "0"
        table.add_row(
            t.table,
            target,
            f"{t.source_rows:,}",
            f"{t.copied_rows:,}",
            rejected,
            f"{t.converted_values:,}",
            f"{t.seconds:.2f}s",
        )
    tot = report.total
    table.add_section()
    table.add_row(
        "total",
        "",
        f"{tot.source_rows:,}",
        f"{tot.copied_rows:,}",
        f"{tot.rejected_rows:,}",
        f"{tot.converted_values:,}",
        f"{report.seconds:.2f}s",
    )
    if report.dry_run:
        for statement in report.ddl:
            console.out.print(statement, markup=False, highlight=False)
    console.out.print(table)
    for orphan in report.orphans:
        console.out.print(
            f"orphans: {orphan.table} -> {orphan.ref_table}: {orphan.orphan_rows:,}"
            f" row(s), constraint {orphan.constraint} added NOT VALID",
            markup=False,
        )
    for note in report.notes:
        console.out.print(f"note: {note.object}: {note.message}", markup=False)
    if tot.rejected_rows:
        console.out.print(
            f"rejected rows are in vendzz_migrate.rejects (run_id "
            f"'{report.run_id}'), with their raw values",
            markup=False,
        )


_STYLE = {
    Status.OK: "green",
    Status.QUARANTINED: "yellow",
    Status.MISMATCH: "red",
    Status.DOCUMENTED: "cyan",
}


def verify_summary(report: VerifyReport) -> None:
    table = Table(
        title=f"verify ({report.mode}) {report.source} -> {report.target} "
        f"schema {report.schema_name}",
        title_justify="left",
    )
    for header in (
        "table",
        "status",
        "source rows",
        "target rows",
        "quarantined",
        "missing",
        "extra",
        "changed",
        "time",
    ):
        table.add_column(header, justify="left" if header in ("table", "status") else "right")
    for t in report.tables:
        style = _STYLE[t.status]
        table.add_row(
            escape(t.table),
            f"[{style}]{t.status.value}[/{style}]",
            f"{t.source_rows:,}",
            f"{t.target_rows:,}",
            f"{t.quarantined:,}",
            f"{t.missing:,}",
            f"{t.extra:,}",
            f"{t.changed:,}",
            f"{t.seconds:.2f}s",
        )
    tot = report.total
    table.add_section()
    table.add_row(
        "total",
        "",
        f"{tot.source_rows:,}",
        f"{tot.target_rows:,}",
        f"{tot.quarantined:,}",
        f"{tot.missing:,}",
        f"{tot.extra:,}",
        f"{tot.changed:,}",
        f"{report.seconds:.2f}s",
    )
    console.out.print(table)
    for t in report.tables:
        for line in difference_lines(t):
            console.out.print(line, markup=False)
    for check in report.schema_checks:
        if check.status is not Status.OK:
            console.out.print(
                f"schema {check.status.value}: {check.kind} {check.object}: {check.detail}",
                markup=False,
            )
    verdict = (
        "[green]verify: everything matches[/green]"
        if report.ok
        else f"[red]verify: {escape(report.summary())}[/red]"
    )
    console.out.print(verdict)
