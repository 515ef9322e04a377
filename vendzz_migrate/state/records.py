"""Typed records that packages hand each other through the state schema.

A note is text for humans (the copy's summary, ``--json``, ``vendzz_migrate.notes.message``);
what another package must act on travels beside it as a record: a :class:`Replacement` says
that a source object is absent from PostgreSQL, or stands there in another form, in one of the
ways the README documents. The copy's DDL writes it with the note
(:meth:`vendzz_migrate.state.store.Store.add_note`), verify's schema check reads it
(:meth:`~vendzz_migrate.state.store.Store.replacements`): rewording a note never changes what
verify answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, NamedTuple


class Replaced(StrEnum):
    """The documented ways a source object is replaced (README: sqlite-to-pg steps 5-7)."""

    DROPPED = "dropped"  # the mapping's drop:
    GIN_INDEX = "gin_index"  # a btree over JSON: a GIN index of the same name
    REPEATED_INDEX = "repeated_index"  # repeats the primary key or a unique index: skipped
    TOO_LONG = "too_long_for_btree"  # values too long for a btree index: skipped
    FULL_TEXT = "full_text"  # a full-text table: a GIN index over to_tsvector(...)
    NULL_KEY = "null_key_unique"  # a primary key holding NULLs: a UNIQUE index
    TRIGGER = "trigger_by_hand"  # a trigger: not migrated, to translate by hand


@dataclass(frozen=True, slots=True)
class Replacement:
    """One documented replacement: of ``object`` (the source object, named as the copy's
    note names it) of ``table`` (the target table, '' when not one table's), by
    ``replacement`` (what stands for it in PostgreSQL, '' when nothing does)."""

    kind: Replaced
    object: str
    table: str = ""
    replacement: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Replacement:
        return cls(
            kind=Replaced(data["kind"]),
            object=str(data["object"]),
            table=str(data.get("table", "")),
            replacement=str(data.get("replacement", "")),
        )


class Note(NamedTuple):
    """A note for humans on one object (``object``, ``message``)."""

    object: str
    message: str


class DocumentedNote(NamedTuple):
    """A note that tells of a documented replacement, with the replacement's record."""

    object: str
    message: str
    replacement: Replacement


class Totals(NamedTuple):
    """A table's totals over the units of a run."""

    source_rows: int
    copied_rows: int
    rejected_rows: int
    converted_values: int
    seconds: float


class StateObject(NamedTuple):
    """An object a run created in the target schema (``kind``: table | view)."""

    kind: str
    name: str


class OrphanRecord(NamedTuple):
    """A foreign key left NOT VALID: its orphan rows counted, a few sampled (child key)."""

    table: str
    constraint: str
    ref_table: str
    orphan_rows: int
    sample: list[dict[str, object]]
