"""verify's fast tiers must take the common values of a Vendzz file.

Every fast tier (SQLite building a row's canonical bytes, the C row loop, the C JSON printer)
may answer "unsure" and leave a value to the reference path: verify stays
correct, only slower, so no correctness test notices a tier that stopped accepting anything.
These tests count what each tier accepted on the generated Vendzz sample (every data-model trap
planted) and fail when a tier leaves the common values to the reference path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.verify.helpers import needs_c
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.sample.models import SampleStats
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import qi
from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap.convert import Kind, Reject
from vendzz_migrate.verify import fast, lite, litesql
from vendzz_migrate.verify import spec as specs


@dataclass
class Table:
    spec: specs.Spec
    plan: litesql.RowPlan
    rows: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def source(dirty: SampleStats) -> Iterator[sqlite3.Connection]:
    conn = lite.open_source(dirty.path)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def tables(source: sqlite3.Connection) -> dict[str, Table]:
    """Every table of the sample as verify sees it (the mapping's types are the target's)."""
    schema = insp.introspect(source)
    mapping = inferrer.infer(source, schema, source="sample")
    out = {}
    for name, plan in planner.build(mapping, schema).items():
        spec = specs.build(
            plan,
            {c.target: c.conversion.pg_type for c in plan.columns},
            mapping.tables[name].primary_key,
            frozenset(),
        )
        row_plan = litesql.row_plan(spec, ordered=False, utf8=litesql.utf8(source))
        out[name] = Table(spec, row_plan, source.execute(row_plan.sql).fetchall())
    return out


def test_sqlite_builds_almost_every_row(tables: dict[str, Table]) -> None:
    """litesql.assemble: SQLite's canonical bytes (plus the Python fast canons of the columns
    it cannot build) accepted for the rows of every table; only the planted traps are left."""
    accepted = {
        n: sum(litesql.assemble(t.plan, r) is not None for r in t.rows) for n, t in tables.items()
    }
    rows = {n: len(t.rows) for n, t in tables.items()}
    assert sum(accepted.values()) >= 0.99 * sum(rows.values()), accepted
    for name, count in rows.items():
        if count:
            assert accepted[name] >= 0.5 * count, (name, accepted[name], count)
        if count >= 20:
            assert accepted[name] >= 0.9 * count, (name, accepted[name], count)


def test_text_timestamps_are_built_by_sqlite(
    source: sqlite3.Connection, tables: dict[str, Table]
) -> None:
    """Rows whose timestamp column holds the service's text forms (ISO ``...Z``, SQLite's
    ``CURRENT_TIMESTAMP``) are built by SQLite too (every such row took the reference path
    before)."""
    rows = accepted = 0
    for table in tables.values():
        for col in table.spec.columns:
            if col.conversion.kind is not Kind.TIMESTAMP:
                continue
            sql = f"{table.plan.sql} WHERE typeof({qi(col.source)}) = 'text'"
            found = [
                r
                for r in source.execute(sql)  # not the NULL-key traps
                if all(r[slot] != b"null" for slot in table.plan.key_slots)
            ]
            rows += len(found)
            accepted += sum(litesql.assemble(table.plan, r) is not None for r in found)
    assert rows >= 40
    assert accepted >= 0.95 * rows, (accepted, rows)


@needs_c
def test_the_c_row_loop_takes_the_rows_of_every_table(tables: dict[str, Table]) -> None:
    """_speed.sums (the fast tier of checksum mode) hashes the rows of every table itself,
    whatever its key (text, integer, none); the rows it defers go to the reference, one
    point query each."""
    assert fast.has_sums
    read = deferred = 0
    for name, table in tables.items():
        if not table.rows:
            continue
        _, _, left, count = fast.c_sums(
            iter(table.rows),
            table.plan.ops,
            table.plan.json,
            table.plan.width,
            table.plan.key_slots,
            [],
            None,
            Reject,
            1,
        )
        left_over = sum(1 for _ in left)
        assert count + left_over == len(table.rows)
        assert count >= 0.5 * len(table.rows), (name, left_over, len(table.rows))
        read += len(table.rows)
        deferred += left_over
    assert read >= 1000
    assert deferred <= 0.01 * read, (deferred, read)


@needs_c
def test_json_values_take_the_c_printer(
    source: sqlite3.Connection, tables: dict[str, Table]
) -> None:
    """jsonb's text of the JSON columns' values: the C printer (jsonb's one fast tier,
    straight from the bytes) is sure of the common documents; the reference takes the
    exceptions (the planted traps: double-encoded documents, invalid JSON, NUL escapes)."""
    values = in_c = 0
    for name, table in tables.items():
        for col in table.spec.columns:
            if not fast.is_json(col.conversion):
                continue
            tier = col.conversion.fast_canon()
            assert tier is canonical.jsonb_fast
            sql = (
                f"SELECT CAST({qi(col.source)} AS BLOB) FROM {qi(name)}"
                f" WHERE typeof({qi(col.source)}) = 'text'"
            )
            for (value,) in source.execute(sql):
                values += 1
                in_c += tier(b"text", value) is not None
    assert values >= 1000
    assert in_c >= 0.97 * values, (in_c, values)


def test_every_kind_has_one_fast_tier(tables: dict[str, Table]) -> None:
    """Each column of the sample has exactly one fast tier: SQLite SQL, or (for what SQLite
    cannot print) the conversion's Python/C canon; only numeric columns have none."""
    for table in tables.values():
        for col in table.spec.columns:
            conv = col.conversion
            tiers = (conv.canon_sql('"c"') is not None) + (conv.fast_canon() is not None)
            expected = 0 if conv.kind is Kind.DECIMAL else 1
            assert tiers == expected, (table.spec.name, col.source, conv.kind)


def test_without_the_c_extension_the_sums_are_the_same(
    source: sqlite3.Connection, tables: dict[str, Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C extension is optional at install (setup.py): without it (no C row loop, no C
    jsonb printer) every table of the sample gives the same segment sums and rows set aside,
    through the reference."""
    with_c = {}
    for name, table in tables.items():
        starts = lite.bounds(source, table.spec, 50) if table.spec.key_pos else []
        with_c[name] = (starts, lite.segment_sums(source, table.spec, starts))
    monkeypatch.setattr(fast, "has_sums", False)
    monkeypatch.setattr(canonical, "_speed", None)
    assert canonical.jsonb_fast(b"text", b'{"a": 1}') is None
    for name, table in tables.items():
        starts, (sums, aside, read) = with_c[name]
        found_sums, found_aside, found_read = lite.segment_sums(source, table.spec, starts)
        assert (found_sums, found_read) == (sums, read), name
        assert [r.digest for r in found_aside] == [r.digest for r in aside], name
