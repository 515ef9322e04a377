"""The sqlite-to-pg report."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TableReport(BaseModel):
    table: str
    target: str
    source_rows: int = 0
    copied_rows: int = 0
    rejected_rows: int = 0
    converted_values: int = 0
    seconds: float = 0.0


class Totals(BaseModel):
    source_rows: int = 0
    copied_rows: int = 0
    rejected_rows: int = 0
    converted_values: int = 0


class Orphans(BaseModel):
    table: str
    constraint: str
    ref_table: str
    orphan_rows: int
    sample: list[dict[str, object]] = Field(default_factory=list)


class Note(BaseModel):
    object: str
    message: str


class CopyReport(BaseModel):
    run_id: str | None
    source: str
    target: str
    schema_name: str
    resumed: bool = False
    dry_run: bool = False
    data_only: bool = False
    tables: list[TableReport] = Field(default_factory=list)
    total: Totals = Field(default_factory=Totals)
    orphans: list[Orphans] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    ddl: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    snapshot_seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the largest process of the run (this one or a copy worker)

    def add_totals(self) -> None:
        self.total = Totals(
            source_rows=sum(t.source_rows for t in self.tables),
            copied_rows=sum(t.copied_rows for t in self.tables),
            rejected_rows=sum(t.rejected_rows for t in self.tables),
            converted_values=sum(t.converted_values for t in self.tables),
        )
