"""Inside the freeze: verify every key changed since the copy, and every table's row count.

The full verify ran on the copy's snapshot before the catch-up; what changed since is exactly
the captured keys, so comparing those rows (canonical values, verify's own code) and the row
counts of every table covers the whole file in time proportional to the changes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import BaseModel, Field

from vendzz_migrate.cutover import capture, delta
from vendzz_migrate.target.ddl import pq
from vendzz_migrate.verify import lite, pgside
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
        return (f"{self.keys} changed key(s) and {self.tables} row count(s) compared: "
                f"{len(self.differences)} difference(s)")


def run(target: delta.Target, source_conn: sqlite3.Connection, after: int) -> KeyVerifyReport:
    """``source_conn``: a reader of the frozen live file (bytes for text)."""
    report = KeyVerifyReport()
    upto = capture.high_water(source_conn)
    changed = capture.changed_keys(source_conn, after, upto)
    for table, plan in target.plans.items():
        spec = _spec(target, table)
        report.tables += 1
        src_n = lite.count_rows(source_conn, table)
        rejected = _rejected(target, table)
        pg_n = pgside.count(target.conn, spec, target.schema)
        if src_n - rejected != pg_n:
            report.differences.append(KeyDiff(table=table, key="*", kind="count", detail=(
                f"SQLite {src_n} row(s) ({rejected} quarantined), PostgreSQL {pg_n}")))
        literals = changed.get(table, []) if target.pg_keys[table] else []
        report.keys += len(literals)
        for start in range(0, len(literals), delta.BATCH_KEYS):
            _compare(target, source_conn, spec, plan.table.primary_key,
                     literals[start:start + delta.BATCH_KEYS], report)
    return report


def _spec(target: delta.Target, table: str) -> specs.Spec:
    plan = target.plans[table]
    types = pgside.table_types(target.conn, target.schema, plan.target)
    targets = {c.target: c.source for c in plan.columns}
    pk = [targets[k] for k in target.pg_keys[table]]
    return specs.build(plan, types, pk, frozenset())


def _rejected(target: delta.Target, table: str) -> int:
    row = target.conn.execute(
        f"SELECT count(DISTINCT source_key) FROM {pq(target.state_schema)}.rejects"
        " WHERE run_id = %s AND table_name = %s".encode(), (target.run_id, table)).fetchone()
    return int(row[0]) if row else 0


def _compare(target: delta.Target, conn: sqlite3.Connection, spec: specs.Spec,
             pk: tuple[str, ...], literals: list[str], report: KeyVerifyReport) -> None:
    raws = delta._key_raws(conn, literals, len(pk))
    source: dict[tuple[str, ...], list[bytes | None]] = {}
    for raw_key in raws:
        found = lite.row_values(conn, spec, raw_key, None)
        if found is None:
            continue
        _raw, values, _failure = found
        key = tuple((values[p] or b"").decode("utf-8") for p in spec.key_pos)
        source[key] = values
    pg = pgside.values_for(target.conn, spec, target.schema, list(source))
    for key, values in source.items():
        theirs = pg.get(key)
        mine = [None if v is None else v.decode("utf-8") for v in values]
        if theirs is None:
            report.differences.append(KeyDiff(table=spec.name, key=",".join(key),
                                              kind="missing"))
        elif list(theirs) != mine:
            cols = [c.target for c, a, b in zip(spec.columns, mine, theirs, strict=True)
                    if a != b]
            report.differences.append(KeyDiff(table=spec.name, key=",".join(key),
                                              kind="changed", detail=", ".join(cols)))


def as_data(report: KeyVerifyReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
