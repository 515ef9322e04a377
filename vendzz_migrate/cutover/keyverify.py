"""Verify of the changed keys: every key changed since the copy, and every table's row count.

The full verify ran on the copy's snapshot before the catch-up; what changed since is exactly
the captured keys, so comparing those rows (canonical values, verify's own code) and the row
counts of every table covers the whole file in time proportional to the changes. The keys the
catch-up applied are compared before the freeze (live, see :func:`run`); inside the freeze only
the keys changed since, and the row counts.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import BaseModel, Field

from vendzz_migrate.cutover import capture, delta
from vendzz_migrate.source import qi
from vendzz_migrate.state.store import Store
from vendzz_migrate.verify import large, lite, pgside
from vendzz_migrate.verify import spec as specs


class KeyDiff(BaseModel):
    table: str
    key: str
    kind: str  # missing | extra | changed | count
    detail: str = ""


class KeyVerifyReport(BaseModel):
    keys: int = 0
    tables: int = 0
    differences: list[KeyDiff] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        return (
            f"{self.keys} changed key(s) and {self.tables} row count(s) compared: "
            f"{len(self.differences)} difference(s)"
        )


def run(
    target: delta.Target, source_conn: sqlite3.Connection, after: int, applied: int | None = None
) -> KeyVerifyReport:
    """Compare the keys changed after ``after``; ``source_conn`` holds a read transaction.

    Frozen (``applied`` None): every key changed since ``after`` and every table's row count.
    Live (``applied``: the mark PostgreSQL holds): the keys changed in (after, applied], leaving
    out those changed again since (they differ legitimately, and are compared later), no counts.
    """
    report = KeyVerifyReport()
    high = capture.high_water(source_conn)
    upto = high if applied is None else applied
    changed = capture.changed_keys(source_conn, after, upto)
    again = capture.changed_keys(source_conn, upto, high) if upto < high else {}
    for table, plan in target.plans.items():
        spec = _spec(target, table)
        report.tables += applied is None
        if applied is None:
            _count(target, source_conn, spec, table, report)
        skip = set(again.get(table, []))
        literals = (
            [k for k in changed.get(table, []) if k not in skip] if target.pg_keys[table] else []
        )
        report.keys += len(literals)
        for start in range(0, len(literals), delta.BATCH_KEYS):
            _compare(
                target,
                source_conn,
                spec,
                plan.table.primary_key,
                literals[start : start + delta.BATCH_KEYS],
                report,
            )
    return report


def _count(
    target: delta.Target,
    conn: sqlite3.Connection,
    spec: specs.Spec,
    table: str,
    report: KeyVerifyReport,
) -> None:
    src_n = lite.count_rows(conn, table)
    rejected = _rejected(target, table)
    pg_n = pgside.count(target.conn, spec, target.schema)
    if src_n - rejected != pg_n:
        report.differences.append(
            KeyDiff(
                table=table,
                key="*",
                kind="count",
                detail=(f"SQLite {src_n} row(s) ({rejected} quarantined), PostgreSQL {pg_n}"),
            )
        )


def _spec(target: delta.Target, table: str) -> specs.Spec:
    plan = target.plans[table]
    types = pgside.table_types(target.conn, target.schema, plan.target)
    targets = {c.target: c.source for c in plan.columns}
    pk = [targets[k] for k in target.pg_keys[table]]
    return specs.build(plan, types, pk, frozenset())


def _rejected(target: delta.Target, table: str) -> int:
    return Store(target.conn, target.state_schema).rejected_rows(target.run_id, table)


def _compare(
    target: delta.Target,
    conn: sqlite3.Connection,
    spec: specs.Spec,
    pk: tuple[str, ...],
    literals: list[str],
    report: KeyVerifyReport,
) -> None:
    where = (
        f"({', '.join(qi(k) for k in pk)}) IN (VALUES {', '.join(f'({lit})' for lit in literals)})"
    )
    source: dict[tuple[str, ...], list[bytes | None]] = {}
    # one read per batch, streamed: a value over pieces.LARGE_BYTES is never read whole, and
    # is compared as its size and md5, as pgside.values_for gives it (verify.large)
    with large.using(target.conn):
        found = list(lite.shown_rows(conn, spec, where))
    for values, failure in found:
        if failure is not None:
            continue  # quarantined (not in PostgreSQL by design; counted with the rejects)
        key = tuple((values[p] or b"").decode("utf-8") for p in spec.key_pos)
        source[key] = values
    pg = pgside.values_for(target.conn, spec, target.schema, list(source))
    for key, values in source.items():
        theirs = pg.get(key)
        mine = [None if v is None else v.decode("utf-8") for v in values]
        if theirs is None:
            report.differences.append(KeyDiff(table=spec.name, key=",".join(key), kind="missing"))
        elif list(theirs) != mine:
            cols = [c.target for c, a, b in zip(spec.columns, mine, theirs, strict=True) if a != b]
            report.differences.append(
                KeyDiff(table=spec.name, key=",".join(key), kind="changed", detail=", ".join(cols))
            )


def as_data(report: KeyVerifyReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
