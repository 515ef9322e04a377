"""Change capture + delta sync against real SQLite and PostgreSQL (no service needed)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.copy.helpers import copy, verified
from tests.copy.test_large_rejects import large_ref, reassembled
from tests.copy.test_large_values import _streamed
from tests.cutover.helpers import make_source, pg_rows, write
from vendzz_migrate.cutover import capture, delta, keyverify
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import pieces, snapshot
from vendzz_migrate.verify import large


def _copy_with_capture(tmp_path: Path, pg_url: str, *extra: str) -> tuple[Path, int]:
    src = make_source(tmp_path / "live.db")
    for sql in extra:  # more of the schema, before the capture
        write(src, sql)
    capture.install(src, insp.DEFAULT_SKIP)
    write(src, "UPDATE users SET email = 'before-copy@example.com' WHERE id = 1")
    report = copy(src, pg_url, tmp_path / "work", keep_snapshot=True)
    with psycopg.connect(pg_url) as conn:
        run = conn.execute("SELECT snapshot FROM vendzz_migrate.runs").fetchone()
    assert run is not None and report.total.rejected_rows == 0
    snap = snapshot.open_snapshot(Path(run[0]))
    try:
        mark = capture.high_water(snap)  # the snapshot holds the log: its mark
    finally:
        snap.close()
    return src, mark


def _sync(src: Path, pg_url: str, after: int) -> delta.DeltaReport:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        delta.ensure_marks(conn, "vendzz_migrate")
        target = delta.target_for(conn, src, "public", "vendzz_migrate")
        report = delta.sync(src, target, "t", after)
        delta.set_sequences(src, target)
        return report


def _key_verify(src: Path, pg_url: str, mark: int) -> list[tuple[str, str, str, str]]:
    """The cutover's key verify of the keys changed after ``mark``: its differences."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        target = delta.target_for(conn, src, "public", "vendzz_migrate")
        lite = delta.open_source(src)
        lite.execute("BEGIN")
        try:
            report = keyverify.run(target, lite, mark)
        finally:
            lite.close()
    return [(d.table, d.key, d.kind, d.detail) for d in report.differences]


def test_capture_triggers_record_keys_and_key_changes(tmp_path: Path) -> None:
    src = make_source(tmp_path / "live.db")
    capture.install(src, insp.DEFAULT_SKIP)
    write(src, "UPDATE quiz_responses SET id = 9999 WHERE id = 5")
    write(src, "DELETE FROM quizzes WHERE id = 'q3'")
    write(src, "INSERT INTO users VALUES (500, 'x@y', NULL)")
    conn = sqlite3.connect(src)
    log = conn.execute(f"SELECT tbl, op, k FROM {capture.LOG} ORDER BY seq").fetchall()
    conn.close()
    assert log == [
        ("quiz_responses", "U", "9999"),
        ("quiz_responses", "K", "5"),
        ("quizzes", "D", "'q3'"),
        ("users", "I", "500"),
    ]
    assert capture.remove(src) == 2 + 3 * 3
    conn = sqlite3.connect(src)
    assert capture.leftovers(conn) == []
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"
    ).fetchone() == (0,)
    conn.close()


def test_delta_replays_every_kind_of_change(tmp_path: Path, pg_url: str) -> None:
    src, mark = _copy_with_capture(tmp_path, pg_url)
    assert mark >= 1
    for i in range(5):  # changes many times
        write(src, "UPDATE quiz_responses SET score = ? WHERE id = 7", (100 + i,))
    write(src, "DELETE FROM quiz_responses WHERE id = 8")  # deleted and re-inserted
    write(src, "INSERT INTO quiz_responses VALUES (8, 'q2', '{\"again\": 1}', 1.5, NULL)")
    write(src, "UPDATE quiz_responses SET id = 7777 WHERE id = 9")  # key changed
    write(src, "DELETE FROM quiz_responses WHERE id = 10")
    write(src, "INSERT INTO users VALUES (900, 'new@example.com', NULL)")  # parent ...
    write(src, "INSERT INTO quizzes VALUES ('q900', 900, 'New', NULL)")  # ... and child
    write(src, "INSERT INTO quiz_responses VALUES (5000, 'q900', NULL, NULL, NULL)")
    write(src, "UPDATE users SET email = 'swap@example.com' WHERE id = 2")  # unique moves
    write(src, "UPDATE users SET id = 901 WHERE id = 3")  # key change, unique email kept
    write(src, "UPDATE quizzes SET owner_id = 901 WHERE owner_id = 3")
    report = _sync(src, pg_url, mark)
    assert report.upto > mark and report.deleted == 3 and report.rejected == 0
    assert report.tables["quiz_responses"] == 6  # 7, 8, 9, 7777, 10, 5000
    assert pg_rows(pg_url, "SELECT score FROM quiz_responses WHERE id = 7") == [(104.0,)]
    assert pg_rows(pg_url, "SELECT count(*) FROM quiz_responses WHERE id IN (9, 10)") == [(0,)]
    verified(src, pg_url)
    again = _sync(src, pg_url, mark)  # replaying is harmless
    assert again.upto == report.upto
    verified(src, pg_url)
    with psycopg.connect(pg_url) as conn:
        assert delta.applied_mark(conn, "vendzz_migrate", "t") == report.upto


def test_delta_cost_follows_changes_not_size(tmp_path: Path, pg_url: str) -> None:
    src, mark = _copy_with_capture(tmp_path, pg_url)
    write(src, "UPDATE quiz_responses SET score = -1 WHERE id = 42")
    report = _sync(src, pg_url, mark)
    assert report.keys == 1 and report.upserted == 1 and report.tables == {"quiz_responses": 1}


def test_delta_quarantines_a_row_the_mapping_cannot_hold(tmp_path: Path, pg_url: str) -> None:
    src, mark = _copy_with_capture(tmp_path, pg_url)
    write(src, "UPDATE quiz_responses SET score = 'not a number' WHERE id = 11")
    report = _sync(src, pg_url, mark)
    assert report.rejected == 1
    assert pg_rows(pg_url, "SELECT count(*) FROM quiz_responses WHERE id = 11") == [(0,)]
    found = pg_rows(pg_url, "SELECT table_name, reason FROM vendzz_migrate.rejects")
    assert [t for t, _ in found] == ["quiz_responses"]


def test_a_table_without_primary_key_is_synced_whole(tmp_path: Path, pg_url: str) -> None:
    src = make_source(tmp_path / "live.db")
    write(src, "CREATE TABLE pings (at TEXT, what TEXT)")
    write(src, "INSERT INTO pings VALUES ('2024-01-01 00:00:00', 'a'), (NULL, 'b')")
    capture.install(src, insp.DEFAULT_SKIP)
    copy(src, pg_url, tmp_path / "work", keep_snapshot=True)
    with psycopg.connect(pg_url) as conn:
        (snap,) = conn.execute("SELECT snapshot FROM vendzz_migrate.runs").fetchone()
    lite = snapshot.open_snapshot(Path(snap))
    mark = capture.high_water(lite)
    lite.close()
    write(src, "DELETE FROM pings WHERE what = 'a'")
    write(src, "INSERT INTO pings VALUES (NULL, 'c')")
    report = _sync(src, pg_url, mark)
    assert report.tables == {"pings": 2}
    assert sorted(r[0] for r in pg_rows(pg_url, "SELECT what FROM pings")) == ["b", "c"]
    verified(src, pg_url)


def test_delta_quarantines_a_row_postgres_refuses(tmp_path: Path, pg_url: str) -> None:
    src, mark = _copy_with_capture(tmp_path, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE quiz_responses ADD CONSTRAINT small CHECK (score < 1000)")
    write(src, "UPDATE quiz_responses SET score = 5000 WHERE id = 12")
    write(src, "UPDATE quiz_responses SET score = 5 WHERE id = 13")
    report = _sync(src, pg_url, mark)
    assert report.rejected == 1 and report.upserted == 1
    assert pg_rows(pg_url, "SELECT id, score FROM quiz_responses WHERE id IN (12, 13)") == [
        (13, 5.0)
    ]
    found = pg_rows(pg_url, "SELECT source_key, reason FROM vendzz_migrate.rejects")
    assert len(found) == 1 and found[0][0]["id"] == 12  # type: ignore[index]
    assert '"quiz_responses" violates check constraint "small"' in str(found[0][1])


def test_live_key_verify_compares_applied_keys_and_leaves_out_later_ones(
    tmp_path: Path, pg_url: str
) -> None:
    src, mark = _copy_with_capture(tmp_path, pg_url)
    write(src, "UPDATE quiz_responses SET score = 1 WHERE id IN (20, 21)")
    applied = _sync(src, pg_url, mark).upto
    write(src, "UPDATE quiz_responses SET score = 2 WHERE id = 21")  # changed again, not applied
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE quiz_responses SET score = 99 WHERE id = 20")  # PostgreSQL is wrong
        target = delta.target_for(conn, src, "public", "vendzz_migrate")
        lite = delta.open_source(src)
        lite.execute("BEGIN")
        live = keyverify.run(target, lite, mark, applied=applied)
        frozen = keyverify.run(target, lite, applied)
        lite.close()
    assert [(d.key, d.kind, d.detail) for d in live.differences] == [("20", "changed", "score")]
    assert live.keys == 1  # 20 only: 21 changed again since, left to the freeze
    assert [(d.key, d.kind) for d in frozen.differences] == [("21", "changed")]
    assert frozen.tables == 3


def test_delta_streams_large_values(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live reader is bound like the copy's: rows changed to hold values over the limit
    (lowered to 100 kB) are written from SQLite a piece at a time, converted as the copy
    converts them (a double-encoded JSON document unwrapped); one PostgreSQL cannot hold is
    quarantined with the copy's reason."""
    src, mark = _copy_with_capture(tmp_path, pg_url)
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    streamed = _streamed(monkeypatch)
    doc = json.dumps({"a": list(range(40_000)), "t": "é\t"})
    inner = {"b": "é😀" * 30_000}
    title = "é\t\\ntitle " * 20_000
    write(src, "UPDATE quiz_responses SET answers = ? WHERE id = 7", (doc,))
    write(
        src, "UPDATE quiz_responses SET answers = ? WHERE id = 8", (json.dumps(json.dumps(inner)),)
    )
    write(src, "UPDATE quizzes SET title = ? WHERE id = 'q1'", (title,))
    write(src, "INSERT INTO quizzes VALUES ('q99', 1, ?, NULL)", ("x" * 150_000 + "\x00",))
    report = _sync(src, pg_url, mark)
    assert report.rejected == 1
    assert pg_rows(
        pg_url,
        "SELECT id, answers = %s::jsonb, answers = %s::jsonb FROM quiz_responses"
        " WHERE id IN (7, 8) ORDER BY id",
        (doc, json.dumps(inner)),
    ) == [(7, True, False), (8, False, True)]
    assert pg_rows(pg_url, "SELECT title FROM quizzes WHERE id = 'q1'") == [(title,)]
    assert pg_rows(pg_url, "SELECT count(*) FROM quizzes WHERE id = 'q99'") == [(0,)]
    (reason, raw_value) = pg_rows(pg_url, "SELECT reason, raw_value FROM vendzz_migrate.rejects")[0]
    assert "NUL" in str(reason)
    stored = ("x" * 150_000 + "\x00").encode()
    assert raw_value == large_ref(stored)  # in pieces, never read whole
    assert reassembled(pg_url) == stored
    assert streamed.count("_text_writer") >= 2  # the document and the title, never whole


def test_delta_reads_a_slow_row_holding_a_large_value_bound(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed row sent to the slow path by a small value (a date that is none), its large
    NOT NULL text left unread by the fast query: read bound, it is refused field by field,
    its large text recorded in pieces (it stopped the sync with 'too big')."""
    src, mark = _copy_with_capture(tmp_path, pg_url)
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    email = "é" * 80_000 + "@example.com"
    write(src, "UPDATE users SET email = ?, created_at = 'no date' WHERE id = 15", (email,))
    report = _sync(src, pg_url, mark)
    assert report.rejected == 1
    ((column, raw_value, raw_row),) = pg_rows(
        pg_url, "SELECT column_name, raw_value, raw_row FROM vendzz_migrate.rejects"
    )
    assert (column, raw_value) == ("created_at", {"type": "text", "value": "no date"})
    stored = email.encode()
    assert raw_row["email"]["large"]["md5"] == hashlib.md5(stored).hexdigest()  # type: ignore[index]
    assert reassembled(pg_url) == stored


def test_key_verify_reads_a_large_value_in_pieces(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed key whose row holds a large text and a large JSON (over the lowered
    pieces.LARGE_BYTES): compared as size and md5 of the canonical text, the values read in
    pieces (never whole); one character changed in PostgreSQL is found, in its column."""
    src, mark = _copy_with_capture(tmp_path, pg_url)
    doc = json.dumps({f"k{i}": [i, "vvvv", {"z": 1, "a": None}] for i in range(5_000)})
    title = "héllo wörld ✓ " * 20_000
    write(src, "UPDATE quiz_responses SET answers = ? WHERE id = 20", (doc,))
    write(src, "UPDATE quizzes SET title = ? WHERE id = 'q1'", (title,))
    _sync(src, pg_url, mark)
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    marked: list[str] = []
    real = large.read_row

    def spy(conn: sqlite3.Connection, spec: Any, at: pieces.Row) -> Any:
        found = real(conn, spec, at)
        marked.extend(
            spec.columns[p].source
            for p in range(len(spec.columns))
            if found is not None and found[1 + 2 * p] in large.MARKS
        )
        return found

    monkeypatch.setattr(large, "read_row", spy)

    assert _key_verify(src, pg_url, mark) == []
    assert sorted(marked) == ["answers", "title"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE quizzes SET title = overlay(title placing 'X' from 150000) WHERE id = 'q1'"
        )
        conn.execute(
            "UPDATE quiz_responses SET answers = jsonb_set(answers, '{k2500,1}', '\"w\"')"
            " WHERE id = 20"
        )
    assert sorted(_key_verify(src, pg_url, mark)) == [
        ("quiz_responses", "20", "changed", "answers"),
        ("quizzes", "q1", "changed", "title"),
    ]


def test_key_verify_compares_a_large_bytea_as_the_copy_stored_it(
    tmp_path: Path, pg_url: str
) -> None:
    """A changed key whose row holds a bytea over 1 MB (verify.blobs' threshold, under the
    copy's 16 MB): both sides compared as size and md5 (it once compared SQLite's hex with
    PostgreSQL's size and md5: never equal); one byte changed in PostgreSQL is found."""

    src, mark = _copy_with_capture(
        tmp_path,
        pg_url,
        "CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB)",
        "INSERT INTO files VALUES (1, x'00'), (2, x'01')",
    )
    data = bytes(range(256)) * 9_000  # 2.3 MB
    write(src, "UPDATE files SET data = ? WHERE id = 1", (data,))
    _sync(src, pg_url, mark)
    assert pg_rows(pg_url, "SELECT md5(data) FROM files WHERE id = 1") == [
        (hashlib.md5(data).hexdigest(),)
    ]

    assert _key_verify(src, pg_url, mark) == []
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE files SET data = set_byte(data, 1000000, 7) WHERE id = 1")
    assert _key_verify(src, pg_url, mark) == [("files", "1", "changed", "data")]
