"""What :func:`vendzz_migrate.sample.generate` returns: rows per table and every trap it planted."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

TRAP_KINDS: tuple[str, ...] = (
    "mixed_epoch_ms",
    "iso_text_in_integer",
    "sql_datetime_text",
    "text_in_integer",
    "infinity",
    "int8_beyond_int4",
    "nul_byte",
    "invalid_utf8",
    "varchar_overflow",
    "double_encoded_json",
    "invalid_json",
    "json_scalar",
    "null_pk",
    "orphan",
    "duplicate_row",
    "fat_json",
    "empty_vs_null",
)
"""Every kind of trap a dirty sample file holds (at least one of each, at any scale)."""


class Trap(BaseModel):
    """One deliberately bad value (or row) in a dirty sample file.

    ``key`` is the row's primary key as text, or its rowid when the table has no key or the key
    is NULL. ``column`` is ``"*"`` when the whole row is the trap (``duplicate_row``).
    """

    table: str
    key: str
    column: str
    kind: str


class SampleStats(BaseModel):
    """Rows written per table (in creation order) and the traps planted (empty when clean)."""

    path: Path
    seed: int
    clean: bool
    wal: bool
    tables: dict[str, int] = Field(default_factory=dict)
    traps: list[Trap] = Field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())

    def trap_kinds(self) -> set[str]:
        return {trap.kind for trap in self.traps}
