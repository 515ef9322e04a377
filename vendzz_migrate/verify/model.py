"""What verify reports: per table counts and differences, schema checks, totals."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Mode = Literal["counts", "checksum", "full"]
LISTED = 1000  # differences listed per table (all are counted)


class Status(StrEnum):
    OK = "ok"  # everything matches (quarantined rows aside)
    QUARANTINED = "quarantined"  # matches, but rows sit in the rejects table (fails with --strict)
    MISMATCH = "mismatch"
    DOCUMENTED = "documented"  # schema: replaced or skipped, as the notes table says


class DiffKind(StrEnum):
    MISSING = "missing"  # in SQLite, not in PostgreSQL (and not in the rejects table)
    EXTRA = "extra"  # in PostgreSQL, not in SQLite
    CHANGED = "changed"  # in both, some columns differ
    QUARANTINED = "quarantined"  # in SQLite, not in PostgreSQL, recorded in the rejects table


class Difference(BaseModel):
    kind: DiffKind
    key: dict[str, Any] = Field(description="the row's key (primary key, rowid or ctid)")
    columns: list[str] = Field(default_factory=list, description="differing columns (target)")
    source: dict[str, Any] | None = Field(default=None, description="with --show-values")
    target: dict[str, Any] | None = Field(default=None, description="with --show-values")
    reason: str | None = None


class TableResult(BaseModel):
    table: str
    target: str
    status: Status = Status.OK
    source_rows: int = 0
    target_rows: int = 0
    quarantined: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0
    segments: int = 0
    mismatched_segments: int = 0
    differences: list[Difference] = Field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None

    def add(self, diff: Difference) -> None:
        if len(self.differences) < LISTED:
            self.differences.append(diff)
        counter = diff.kind.value
        setattr(self, counter, getattr(self, counter) + 1)

    def settle(self) -> None:
        if self.missing or self.extra or self.changed:
            self.status = Status.MISMATCH
        elif self.quarantined:
            self.status = Status.QUARANTINED
        else:
            self.status = Status.OK


class SchemaCheck(BaseModel):
    kind: Literal[
        "table", "column", "primary key", "index", "foreign key", "view", "trigger", "sequence"
    ]
    object: str
    status: Status
    detail: str = ""


class Totals(BaseModel):
    tables: int = 0
    mismatched_tables: int = 0
    source_rows: int = 0
    target_rows: int = 0
    quarantined: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0
    schema_mismatches: int = 0


class VerifyReport(BaseModel):
    source: Path
    target: str
    schema_name: str
    mode: Mode
    strict: bool = False
    run_id: str | None = Field(default=None, description="the copy run whose rejects were used")
    mapping_from: str = Field(default="", description="--mapping file, stored run or inferred")
    tables: list[TableResult] = Field(default_factory=list)
    schema_checks: list[SchemaCheck] = Field(default_factory=list)
    total: Totals = Field(default_factory=Totals)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Exit 0 only when this is true."""
        tot = self.total
        bad = tot.missing or tot.extra or tot.changed or tot.schema_mismatches
        return not bad and not (self.strict and tot.quarantined)

    def add_totals(self) -> None:
        tot = Totals(tables=len(self.tables))
        for t in self.tables:
            tot.mismatched_tables += t.status is Status.MISMATCH
            for name in (
                "source_rows",
                "target_rows",
                "quarantined",
                "missing",
                "extra",
                "changed",
            ):
                setattr(tot, name, getattr(tot, name) + getattr(t, name))
        tot.schema_mismatches = sum(c.status is Status.MISMATCH for c in self.schema_checks)
        self.total = tot

    def summary(self) -> str:
        tot = self.total
        return (
            f"{tot.mismatched_tables} of {tot.tables} table(s) differ: {tot.missing} missing, "
            f"{tot.extra} extra, {tot.changed} changed row(s), {tot.quarantined} quarantined;"
            f" {tot.schema_mismatches} schema difference(s)"
        )
