"""verify's schema check decides from the copy's typed replacement records, never from the
wording of its notes: each documented replacement is accepted, an undocumented difference is
flagged, and rewording every note changes nothing. SQLite triggers are never passed over."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import pytest

from tests.verify.helpers import copy, execute, verify
from vendzz_migrate.verify.model import Status, VerifyReport

SCHEMA = """
CREATE TABLE docs (id INTEGER PRIMARY KEY, email TEXT UNIQUE, body TEXT, meta JSON, big TEXT);
CREATE INDEX docs_meta ON docs (meta);
CREATE INDEX docs_email ON docs (email);
CREATE INDEX docs_big ON docs (big);
CREATE INDEX docs_body ON docs (body);
CREATE TRIGGER docs_touch AFTER UPDATE ON docs BEGIN SELECT 1; END;
"""
DOCUMENTED = {
    ("index", "docs_meta"),  # btree over JSON: a GIN index
    ("index", "docs_email"),  # repeats the unique index on email: skipped
    ("index", "docs_big"),  # values too long for a btree: skipped
    ("trigger", "docs_touch (on docs)"),  # never translated: left to do by hand
}


@pytest.fixture
def copied(tmp_path: Path, pg_url: str) -> tuple[Path, str]:
    source = tmp_path / "docs.db"
    lite = sqlite3.connect(source)
    lite.executescript(SCHEMA)
    big = base64.b64encode(os.urandom(30_000)).decode()  # no compression brings it under 2.7 kB
    lite.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?, ?)",
        [(i, f"u{i}@x.io", f"body {i}", f'{{"n":{i}}}', big if i == 1 else "s") for i in range(50)],
    )
    lite.commit()
    lite.close()
    copy(source, pg_url, tmp_path / "work")
    return source, pg_url


def statuses(report: VerifyReport) -> dict[tuple[str, str], Status]:
    return {(c.kind, c.object): c.status for c in report.schema_checks}


def test_each_documented_replacement_is_accepted(copied: tuple[Path, str]) -> None:
    source, url = copied
    report = verify(source, url)
    found = statuses(report)
    assert {k: found.get(k) for k in DOCUMENTED} == dict.fromkeys(DOCUMENTED, Status.DOCUMENTED)
    assert found[("index", "docs_body")] is Status.OK
    assert report.ok, report.summary()
    kinds = execute(url, "SELECT replacement->>'kind' FROM vendzz_migrate.notes")
    assert {k for (k,) in kinds} >= {
        "gin_index",
        "repeated_index",
        "too_long_for_btree",
        "trigger_by_hand",
    }


def test_rewording_the_notes_changes_nothing(copied: tuple[Path, str]) -> None:
    source, url = copied
    before = statuses(verify(source, url))
    execute(url, "UPDATE vendzz_migrate.notes SET message = 'reworded ' || md5(message)")
    report = verify(source, url)
    assert statuses(report) == before
    assert report.ok, report.summary()


def test_an_undocumented_difference_is_flagged(copied: tuple[Path, str]) -> None:
    source, url = copied
    execute(url, "UPDATE vendzz_migrate.notes SET replacement = NULL")  # notes' text stays
    execute(url, 'DROP INDEX public."docs_body"')
    found = statuses(verify(source, url))
    for key in [*DOCUMENTED - {("index", "docs_meta")}, ("index", "docs_body")]:
        assert found[key] is Status.MISMATCH, key
    # the GIN index is still there, under the source index's name and column: as it should be
    assert found[("index", "docs_meta")] is Status.OK


def test_a_documented_gin_replacement_must_exist(copied: tuple[Path, str]) -> None:
    source, url = copied
    execute(url, 'DROP INDEX public."docs_meta"')
    report = verify(source, url)
    check = next(c for c in report.schema_checks if c.object == "docs_meta")
    assert (check.status, check.detail) == (
        Status.MISMATCH,
        "documented GIN replacement is missing",
    )


def test_a_trigger_translated_by_hand_is_found(copied: tuple[Path, str]) -> None:
    source, url = copied
    execute(
        url,
        "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS"
        " 'BEGIN RETURN NEW; END';"
        " CREATE TRIGGER docs_touch AFTER UPDATE ON public.docs FOR EACH ROW"
        " EXECUTE FUNCTION public.touch()",
    )
    assert statuses(verify(source, url))[("trigger", "docs_touch (on docs)")] is Status.OK


def test_a_trigger_without_the_copys_record_is_a_difference(copied: tuple[Path, str]) -> None:
    source, url = copied
    execute(url, "DELETE FROM vendzz_migrate.notes WHERE object = 'docs_touch'")
    report = verify(source, url)
    assert statuses(report)[("trigger", "docs_touch (on docs)")] is Status.MISMATCH
    assert not report.ok
