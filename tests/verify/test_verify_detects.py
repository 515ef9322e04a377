"""verify on a real copy of a dirty generated file: clean when nothing changed (no false
mismatch), and every change made afterwards is found and located to its table and key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.verify.helpers import execute, only_difference, table, verify
from vendzz_migrate.sample.models import SampleStats
from vendzz_migrate.verify.model import DiffKind, Status, VerifyReport


def _first(pg_url: str, sql: str) -> str:
    return str(execute(pg_url, sql)[0][0])


def _schema_failures(report: VerifyReport) -> list[tuple[str, str]]:
    return [(c.kind, c.object) for c in report.schema_checks if c.status is Status.MISMATCH]


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_clean_copy_of_dirty_file_verifies_clean(
    dirty: SampleStats, copied: str, mode: str
) -> None:
    report = verify(dirty.path, copied, mode=mode)
    assert report.ok, report.summary()
    assert (report.total.missing, report.total.extra, report.total.changed) == (0, 0, 0)
    assert _schema_failures(report) == []
    rejects = dict(
        execute(copied, "SELECT table_name, count(*) FROM vendzz_migrate.rejects GROUP BY 1")
    )
    assert rejects, "the dirty file should have quarantined rows"
    for name, count in rejects.items():
        assert table(report, name).quarantined == count
        assert table(report, name).status is Status.QUARANTINED
    expected = {n: c for n, c in dirty.tables.items() if n != "__drizzle_migrations"}
    assert {t.table: t.source_rows for t in report.tables} == expected
    kinds = {c.kind for c in report.schema_checks}
    assert {"table", "column", "primary key", "index", "foreign key", "sequence"} <= kinds


def test_quarantined_rows_fail_only_with_strict(dirty: SampleStats, copied: str) -> None:
    report = verify(dirty.path, copied, strict=True)
    assert not report.ok
    assert report.total.quarantined > 0
    assert report.total.missing == 0


def test_one_value_changed(dirty: SampleStats, copied: str) -> None:
    key = _first(copied, 'SELECT id FROM users ORDER BY id COLLATE "C" OFFSET 3 LIMIT 1')
    execute(copied, 'UPDATE users SET "firstName" = %s WHERE id = %s', ("Changed", key))
    t, diff = only_difference(verify(dirty.path, copied))
    assert (t.table, diff.kind, diff.key, diff.columns) == (
        "users",
        DiffKind.CHANGED,
        {"id": key},
        ["firstName"],
    )
    assert diff.source is None  # redacted by default
    assert diff.target is None


def test_timestamp_moved_by_one_millisecond(dirty: SampleStats, copied: str) -> None:
    key = _first(
        copied,
        'SELECT id FROM quizzes WHERE "createdAt" IS NOT NULL ORDER BY id COLLATE "C" LIMIT 1',
    )
    execute(
        copied,
        """UPDATE quizzes SET "createdAt" = "createdAt" + interval '1 millisecond'"""
        " WHERE id = %s",
        (key,),
    )
    t, diff = only_difference(verify(dirty.path, copied, show_values=True))
    assert (t.table, diff.key, diff.columns) == ("quizzes", {"id": key}, ["createdAt"])
    assert diff.source
    assert diff.target
    assert int(diff.target["createdAt"]) - int(diff.source["createdAt"]) == 1000  # µs


def test_boolean_flipped(dirty: SampleStats, copied: str) -> None:
    key = _first(
        copied,
        'SELECT id FROM quizzes WHERE "isPublished" IS NOT NULL'
        ' ORDER BY id COLLATE "C" DESC LIMIT 1',
    )
    execute(copied, 'UPDATE quizzes SET "isPublished" = NOT "isPublished" WHERE id = %s', (key,))
    t, diff = only_difference(verify(dirty.path, copied))
    assert (t.table, diff.key, diff.columns) == ("quizzes", {"id": key}, ["isPublished"])


def test_one_key_changed_inside_a_1mb_json_cell(dirty: SampleStats, copied: str) -> None:
    fat = next(t for t in dirty.traps if t.kind == "fat_json")
    size = _first(
        copied,
        "SELECT octet_length(structure::text) FROM quizzes WHERE id = %s".replace(
            "%s", f"'{fat.key}'"
        ),
    )
    assert int(size) > 1_000_000
    execute(
        copied,
        "UPDATE quizzes SET structure = jsonb_set(structure, '{pages,7,id}',"
        " '\"moved\"') WHERE id = %s",
        (fat.key,),
    )
    t, diff = only_difference(verify(dirty.path, copied))
    assert (t.table, diff.key, diff.columns) == ("quizzes", {"id": fat.key}, ["structure"])


def test_one_row_deleted(dirty: SampleStats, copied: str) -> None:
    key = _first(
        copied, 'SELECT id FROM response_variables ORDER BY id COLLATE "C" OFFSET 500 LIMIT 1'
    )
    execute(copied, "DELETE FROM response_variables WHERE id = %s", (key,))
    report = verify(dirty.path, copied)
    t, diff = only_difference(report)
    assert (t.table, diff.kind, diff.key) == ("response_variables", DiffKind.MISSING, {"id": key})
    assert t.mismatched_segments == 1
    counted = verify(dirty.path, copied, mode="counts")
    assert table(counted, "response_variables").missing == 1


def test_one_row_inserted(dirty: SampleStats, copied: str) -> None:
    execute(
        copied,
        "CREATE TABLE extra_row AS SELECT * FROM response_variables LIMIT 1;"
        " UPDATE extra_row SET id = 'zz-inserted';"
        " INSERT INTO response_variables SELECT * FROM extra_row;"
        " DROP TABLE extra_row",
    )
    t, diff = only_difference(verify(dirty.path, copied))
    assert (t.table, diff.kind, diff.key) == (
        "response_variables",
        DiffKind.EXTRA,
        {"id": "zz-inserted"},
    )


def test_row_duplicated_in_a_table_without_key(dirty: SampleStats, copied: str) -> None:
    execute(
        copied,
        "INSERT INTO extension_pings SELECT * FROM extension_pings ORDER BY ctid OFFSET 7 LIMIT 1",
    )
    t, diff = only_difference(verify(dirty.path, copied))
    assert (t.table, diff.kind) == ("extension_pings", DiffKind.EXTRA)
    assert set(diff.key) == {"ctid"}
    assert t.target_rows == t.source_rows - t.quarantined + 1


def test_sequence_set_below_max_id(dirty: SampleStats, copied: str) -> None:
    execute(copied, "SELECT setval(pg_get_serial_sequence('public.quiz_templates', 'id'), 1)")
    report = verify(dirty.path, copied)
    assert _schema_failures(report) == [("sequence", "quiz_templates.id")]
    assert report.total.missing + report.total.extra + report.total.changed == 0


def test_index_dropped(dirty: SampleStats, copied: str) -> None:
    name = _first(
        copied,
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
        " AND indexname LIKE 'idx%' ORDER BY 1 LIMIT 1",
    )
    execute(copied, f'DROP INDEX "{name}"')
    assert _schema_failures(verify(dirty.path, copied)) == [("index", name)]


def test_change_made_in_sqlite_after_the_copy(source_copy: Path, copied: str) -> None:
    key = _first(copied, 'SELECT id FROM users ORDER BY id COLLATE "C" LIMIT 1')
    with sqlite3.connect(source_copy) as conn:
        conn.execute("UPDATE users SET lastName = 'Edited after the copy' WHERE id = ?", (key,))
    t, diff = only_difference(verify(source_copy, copied))
    assert (t.table, diff.key, diff.columns) == ("users", {"id": key}, ["lastName"])
    assert verify(source_copy, copied, tables=["quizzes"]).ok  # --tables limits the work
