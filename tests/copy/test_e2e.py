"""End-to-end copies of generated Vendzz files: every row accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.copy.helpers import copy, rows, verified
from vendzz_migrate.sample import generate
from vendzz_migrate.sample.models import SampleStats


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return generate(tmp_path_factory.mktemp("dirty") / "vendzz.db", rows=2000, seed=3)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SampleStats:
    return generate(tmp_path_factory.mktemp("clean") / "vendzz.db", rows=2000, seed=4, clean=True)


def test_dirty_file_every_row_is_copied_or_quarantined(
    dirty: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    report = copy(dirty.path, pg_url, tmp_path, batch_rows=300)
    by_table = {t.table: t for t in report.tables}
    expected = {n: c for n, c in dirty.tables.items() if n != "__drizzle_migrations"}
    assert set(by_table) == set(expected)
    for name, count in expected.items():
        t = by_table[name]
        assert t.source_rows == count, name
        assert t.copied_rows + t.rejected_rows == count, name
        (in_pg,) = rows(pg_url, f'SELECT count(*) FROM "{t.target}"')[0]
        assert in_pg == t.copied_rows, name
        (quarantined,) = rows(
            pg_url, "SELECT count(*) FROM vendzz_migrate.rejects WHERE table_name = %s", (name,)
        )[0]
        assert quarantined == t.rejected_rows, name
    # rows whose text primary key is NULL land (null_key: unique: the key became a UNIQUE
    # index, NULLs allowed and distinct, as in SQLite)
    null_keys = [t for t in dirty.traps if t.kind == "null_pk"]
    (landed,) = rows(pg_url, "SELECT count(*) FROM checkout_products WHERE id IS NULL")[0]
    assert null_keys and landed == len(null_keys)
    # the traps that PostgreSQL cannot hold as they are were quarantined with their raw row
    must_reject = {"nul_byte", "invalid_utf8"}
    rejected = rows(
        pg_url, "SELECT table_name, source_key, reason, raw_row FROM vendzz_migrate.rejects"
    )
    keys = {(t, json.dumps(k, sort_keys=True)) for t, k, _r, _raw in rejected}
    for trap in dirty.traps:
        if trap.kind in must_reject:
            assert any(t == trap.table and (trap.key in k) for t, k in keys), trap
    assert all(raw and reason for _t, _k, reason, raw in rejected)
    verified(dirty.path, pg_url)


def test_dirty_file_schema_and_conversions(dirty: SampleStats, pg_url: str, tmp_path: Path) -> None:
    copy(dirty.path, pg_url, tmp_path)
    types = dict(
        rows(
            pg_url,
            "SELECT table_name || '.' || column_name, data_type FROM"
            " information_schema.columns WHERE table_schema = 'public'",
        )
    )
    assert types["users.createdAt"] == "timestamp with time zone"
    assert types["quizzes.structure"] == "jsonb"
    assert types["quizzes.isPublished"] == "boolean"
    assert types["lessons.order"] in ("bigint", "integer")
    # double-encoded JSON was unwrapped to the array itself, not stored as a JSON string
    kinds = {
        k for (k,) in rows(pg_url, 'SELECT DISTINCT jsonb_typeof("phones") FROM sms_campaigns')
    }
    assert kinds == {"array"}
    # the btree over JSON text became GIN; the quoted default survived as a string literal
    (gin,) = rows(
        pg_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_quiz_responses_metadata'"
    )[0]
    assert "gin" in gin
    (default,) = rows(
        pg_url,
        "SELECT column_default FROM information_schema.columns WHERE"
        " table_name = 'sms_campaigns' AND column_name = 'campaignType'",
    )[0]
    assert default.startswith("'standard'")
    # sequences are past max(id)
    (nextval, top) = rows(
        pg_url,
        "SELECT nextval(pg_get_serial_sequence('quiz_templates',"
        " 'id')), (SELECT max(id) FROM quiz_templates)",
    )[0]
    assert nextval > (top or 0)


def test_clean_file_has_no_rejects_and_valid_foreign_keys(
    clean: SampleStats, pg_url: str, tmp_path: Path
) -> None:
    report = copy(clean.path, pg_url, tmp_path, workers=3)
    assert report.total.rejected_rows == 0
    assert report.snapshot_seconds > 0 and report.peak_rss_mb > 0
    assert report.total.copied_rows == clean.total_rows - clean.tables.get(
        "__drizzle_migrations", 0
    )
    assert not report.orphans
    not_valid = rows(
        pg_url, "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
    )
    assert not_valid == []
    views = rows(
        pg_url, "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
    )
    assert views, "the sample's view was not migrated"
    unanalysed = rows(
        pg_url,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        " AND c.relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_statistic"
        " s WHERE s.starelid = c.oid)",
    )
    assert unanalysed == []  # ANALYZE ran on every table (after its indexes)
    indexes = rows(pg_url, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
    assert indexes[0][0] >= len(report.tables)  # every key and index was scheduled and built
    verified(clean.path, pg_url, mode="checksum")


def test_dry_run_touches_nothing(dirty: SampleStats, pg_url: str, tmp_path: Path) -> None:
    report = copy(dirty.path, pg_url, tmp_path, dry_run=True)
    assert report.dry_run and report.ddl
    assert any("CREATE TABLE" in s for s in report.ddl)
    assert rows(
        pg_url,
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN"
        " ('pg_catalog', 'information_schema')",
    ) == [(0,)]
    assert not (tmp_path / "snapshots").exists()
