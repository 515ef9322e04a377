"""What verify compares for one table: columns, their canonical forms, the matching key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vendzz_migrate.source.reader import ColumnPlan, TablePlan
from vendzz_migrate.typemap.convert import Kind, kind_for
from vendzz_migrate.typemap.values import Raw, encode_raw
from vendzz_migrate.verify.fast import FastCanon, column_fast

Key = tuple[str, ...]  # canonical text of the key columns


@dataclass(frozen=True)
class Spec:
    plan: TablePlan
    columns: tuple[ColumnPlan, ...]  # compared columns, in source order
    pg_types: tuple[str, ...]  # their real types in the target
    key_pos: tuple[int, ...]  # positions in ``columns`` of the matching key; () = keyless
    rejects: frozenset[str] = frozenset()  # identities (sorted JSON) of quarantined rows
    canons: tuple[FastCanon, ...] = field(default=())
    reject_rowids: frozenset[int] | None = None  # rowids of ``rejects`` when they all have one

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled without the canonicalisers (closures); rebuilt in the worker process."""
        return (
            _restore,
            (
                self.plan,
                self.columns,
                self.pg_types,
                self.key_pos,
                self.rejects,
                self.reject_rowids,
            ),
        )

    @property
    def name(self) -> str:
        return self.plan.table.name

    @property
    def target(self) -> str:
        return self.plan.target

    @property
    def has_rowid(self) -> bool:
        return not self.plan.table.without_rowid

    @property
    def rowid(self) -> str:
        """The name of the rowid no column shadows (a column may be called ``rowid``)."""
        return self.plan.rowid

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(self.columns[i].source for i in self.key_pos)

    @property
    def key_targets(self) -> tuple[str, ...]:
        return tuple(self.columns[i].target for i in self.key_pos)

    @property
    def pg_key_types(self) -> tuple[str, ...]:
        return tuple(self.pg_types[i] for i in self.key_pos)

    def integer_key(self, part: int) -> bool:
        return kind_for(self.pg_key_types[part]) is Kind.INTEGER

    def key_dict(self, key: Key) -> dict[str, Any]:
        return {
            name: _plain_key(value, self.integer_key(i))
            for i, (name, value) in enumerate(zip(self.key_targets, key, strict=True))
        }


def build(
    plan: TablePlan, pg_columns: dict[str, str], primary_key: list[str], rejects: frozenset[str]
) -> Spec:
    """A spec over the columns present in the target; keyless if a key column is absent."""
    cols = tuple(c for c in plan.columns if c.target in pg_columns)
    positions = {c.source: i for i, c in enumerate(cols)}
    key_pos = tuple(positions[k] for k in primary_key if k in positions)
    if len(key_pos) != len(primary_key):
        key_pos = ()
    return Spec(
        plan,
        cols,
        tuple(pg_columns[c.target] for c in cols),
        key_pos,
        rejects,
        tuple(column_fast(c.conversion) for c in cols),
        _rowids(plan, rejects),
    )


def _restore(
    plan: TablePlan,
    columns: tuple[ColumnPlan, ...],
    pg_types: tuple[str, ...],
    key_pos: tuple[int, ...],
    rejects: frozenset[str],
    reject_rowids: frozenset[int] | None,
) -> Spec:
    return Spec(
        plan,
        columns,
        pg_types,
        key_pos,
        rejects,
        tuple(column_fast(c.conversion) for c in columns),
        reject_rowids,
    )


def _rowids(plan: TablePlan, rejects: frozenset[str]) -> frozenset[int] | None:
    if plan.table.without_rowid:
        return None
    found = set()
    for ident in rejects:
        rowid = json.loads(ident).get("rowid")
        if not isinstance(rowid, int):
            return None
        found.add(rowid)
    return frozenset(found)


def _plain_key(value: str, integer: bool) -> Any:
    return int(value) if integer else value


def identity(spec: Spec, raws: list[Raw], rowid: int | None) -> str:
    """The row's identity exactly as the copier writes it to ``rejects.source_key``."""
    table = spec.plan.table
    pk = table.primary_key
    by_name = {c.source: r for c, r in zip(spec.columns, raws, strict=True)}
    data: dict[str, Any] = {k: _plain(by_name[k]) for k in pk if k in by_name}
    if not table.without_rowid:
        data["rowid"] = rowid
    return json.dumps(data, sort_keys=True)


def _plain(raw: Raw) -> Any:
    encoded = encode_raw(raw)
    if encoded["type"] == "integer":
        return int(encoded["value"])
    return encoded["value"] if encoded["type"] == "text" and "value" in encoded else encoded


def identity_dict(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data
