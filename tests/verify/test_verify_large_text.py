"""Large text and JSON values (over ``pieces.LARGE_BYTES``) are read in pieces (issue #11):
text hashed from its bytes as they come, JSON canonicalised by PostgreSQL from the SQLite text
streamed to it. verify must still see one byte, a length, a NULL, on the right row and column,
in every path (checksum sums, bisection, full mode, workers, the changed row's columns, tables
without rowids or without a key), and report a large value that does not convert exactly as
reading it whole does. The threshold is lowered so that the values stay small."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.copy.test_large_values import peak_rss_mb
from tests.verify.helpers import copy, execute, table, verify
from tests.verify.test_verify_large import _spec
from vendzz_migrate import procs
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly, pieces
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import Kind
from vendzz_migrate.verify import large, lite, pgside
from vendzz_migrate.verify.model import DiffKind, VerifyReport

LARGE = 100_000  # the lowered threshold
TEXT_IDS = (7, 12, 23)
JSON_IDS = (8, 13, 24)


def _text(seed: int) -> str:
    """~300 kB of text whose multi-byte characters straddle the pieces' edges."""
    return "".join(f"{seed} héllo wörld ✓ {i} — 𝄞\n" for i in range(9_000))


def _doc(seed: int) -> str:
    """~300 kB of JSON whose jsonb text differs from it: keys out of order, a key twice,
    spaces, numbers jsonb keeps as written, escapes, newlines and tabs between tokens."""
    items = ", ".join(f'"k{i}":[{i}, "v{seed}", 2.50, {{"z": 1,"a": null}}]' for i in range(6_000))
    escaped = '"esc":\n\t"a\\\\b\\n\\"q\\" \\u00e9\\t"'  # COPY's special bytes, as is
    return '{"zz": 1, ' + items + ', "zz": "last",\r\n "é": "✓", ' + escaped + "}"


def _build(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT, doc JSON, note TEXT);
        CREATE TABLE w (k TEXT PRIMARY KEY, body TEXT, doc JSON) WITHOUT ROWID;
        CREATE TABLE k (body TEXT, n INTEGER);
    """)
    for i in range(1, 41):
        body: str | None = _text(i) if i in TEXT_IDS else f"small {i}"
        doc: str | None = _doc(i) if i in JSON_IDS else json.dumps({"i": i, "b": [i]})
        body = None if i == 30 else body
        doc = None if i == 31 else doc
        conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (i, body, doc, f"row {i}"))
    conn.executemany(
        "INSERT INTO w VALUES (?, ?, ?)",
        [("a", "x", "[]"), ("m", _text(100), _doc(100)), ("z", "", "{}")],
    )
    conn.executemany("INSERT INTO k VALUES (?, ?)", [(_text(200), 1), ("small", 2)])
    conn.commit()
    conn.close()


@pytest.fixture
def copied(tmp_path: Path, pg_url: str) -> tuple[Path, str]:
    source = tmp_path / "large.db"
    _build(source)
    report = copy(source, pg_url, tmp_path / "work")
    assert report.total.rejected_rows == 0
    types = execute(
        pg_url,
        "SELECT data_type FROM information_schema.columns WHERE column_name"
        " = 'doc' AND table_name = 't'",
    )
    assert types == [("jsonb",)]
    return source, pg_url


@pytest.fixture
def lowered(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The threshold lowered (pieces that cut characters); every large value read in pieces
    is recorded as (table, column), every row read whole again as (table, "read whole")."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", LARGE)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    monkeypatch.setattr(pieces, "KEYED_CHUNK", 44_444)
    seen: list[Any] = []
    real = large.read_row

    def spy(conn: sqlite3.Connection, spec: Any, at: pieces.Row) -> Any:
        found = real(conn, spec, at)
        if found is not None:
            seen.extend(
                (spec.name, spec.columns[p].source)
                for p in range(len(spec.columns))
                if found[1 + 2 * p] in large.MARKS
            )
        return found

    monkeypatch.setattr(large, "read_row", spy)
    real_whole = lite._whole

    def whole(conn: sqlite3.Connection, spec: Any, row: Any) -> Any:
        seen.append((spec.name, "read whole"))
        return real_whole(conn, spec, row)

    monkeypatch.setattr(lite, "_whole", whole)
    return seen


def _flip_text(table: str, where: str) -> str:
    """One character in the middle of the text, to another (always a change)."""
    return (
        f"UPDATE {table} SET body = overlay(body placing"
        f" CASE WHEN substr(body, 150000, 1) = 'Q' THEN 'R' ELSE 'Q' END from 150000 for 1)"
        f" WHERE {where}"
    )


def _flip_doc(table: str, where: str) -> str:
    return f"UPDATE {table} SET doc = jsonb_set(doc, '{{k3000,1}}', '\"changed\"') WHERE {where}"


CHANGES = (
    _flip_text("t", "id = 7"),
    "UPDATE t SET body = NULL WHERE id = 12",  # a large value against NULL
    "UPDATE t SET body = body || 'x' WHERE id = 23",  # one character more
    f"UPDATE t SET body = '{_text(30)}' WHERE id = 30",  # NULL in SQLite, large here
    _flip_doc("t", "id = 8"),
    "UPDATE t SET doc = doc - 'k5999' WHERE id = 13",  # a key less
    "UPDATE t SET doc = NULL WHERE id = 24",
    _flip_text("w", "k = 'm'"),
    _flip_doc("w", "k = 'm'"),
    _flip_text("k", "n = 1"),
)
CHANGED = {7: "body", 12: "body", 23: "body", 30: "body", 8: "doc", 13: "doc", 24: "doc"}


def _options(mode: str, workers: int) -> dict[str, Any]:
    options: dict[str, Any] = {"mode": mode, "workers": workers, "segment_rows": 8}
    if workers > 1:
        options |= {"parallel_min_rows": 0, "split_rows": 5}
    return options


def _found(report: VerifyReport) -> list[Any]:
    """Every difference (the values shown aside: a large one shows as size and md5)."""
    return sorted(
        (t.table, d.kind.value, json.dumps(d.key), d.columns or [], d.reason or "")
        for t in report.tables
        for d in t.differences
    )


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_one_character_a_length_or_a_null_in_a_large_text_or_json_is_a_changed_row(
    copied: tuple[Path, str],
    lowered: list[Any],
    mode: str,
    workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clean: everything matches, every large value read in pieces. Then every change of
    CHANGES is found, in its row, with its column, the values shown as size and md5; the
    very report that reading the values whole gives. Workers are spawned (as when the parent
    runs threads): they take the parent's (lowered) limits with their start arguments; what
    they read is not observed here (other processes), only that the report is the same."""
    if workers > 1:
        monkeypatch.setattr(procs, "context", lambda: multiprocessing.get_context("spawn"))
    source, pg_url = copied
    options = _options(mode, workers)
    assert verify(source, pg_url, **options).ok
    if workers == 1:  # (workers are other processes)
        assert {*lowered} == {
            ("t", "body"),
            ("t", "doc"),
            ("w", "body"),
            ("w", "doc"),
            ("k", "body"),
        }
    for sql in CHANGES:
        execute(pg_url, sql)
    report = verify(source, pg_url, show_values=True, **options)
    assert not report.ok
    t = table(report, "t")
    assert t.changed == len(CHANGED) and not (t.missing or t.extra), t
    assert {d.key["id"]: d.columns for d in t.differences} == {i: [c] for i, c in CHANGED.items()}
    assert all(d.kind is DiffKind.CHANGED for d in t.differences)
    shown = {d.key["id"]: (d.source, d.target) for d in t.differences}
    assert shown[12][1] == {"body": None} and shown[24][1] == {"doc": None}
    assert shown[30][0] == {"body": None}
    for i in (7, 23, 8, 13):
        src, tgt = shown[i]
        assert src is not None and tgt is not None
        (mine,), (theirs,) = src.values(), tgt.values()
        assert mine.startswith("<") and theirs.startswith("<") and mine != theirs
    w = table(report, "w")
    assert (w.changed, [d.key for d in w.differences]) == (1, [{"k": "m"}])
    assert w.differences[0].columns == ["body", "doc"]
    k = table(report, "k")
    assert (k.missing, k.extra, k.changed) == (1, 1, 0)
    # reading every value whole gives the very same report
    pieces.LARGE_BYTES = 1 << 30
    assert _found(verify(source, pg_url, show_values=True, **options)) == _found(report)


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_one_byte_changed_in_sqlite_is_a_changed_row(
    copied: tuple[Path, str], lowered: list[Any], mode: str
) -> None:
    source, pg_url = copied
    conn = sqlite3.connect(source)
    text, middle = _text(7), len(_text(7)) // 2  # one byte in the middle: ö to õ
    conn.execute(
        "UPDATE t SET body = ? WHERE id = 7", (text[:middle] + text[middle:].replace("ö", "õ", 1),)
    )
    doc = _doc(8)
    middle = doc.index('"k3000"')  # one byte in the middle: "v8" to "v9" in k3000's array
    changed = doc[:middle] + doc[middle:].replace('"v8"', '"v9"', 1)
    conn.execute("UPDATE t SET doc = ? WHERE id = 8", (changed,))
    conn.execute("UPDATE w SET body = body || ' ' WHERE k = 'm'")
    conn.commit()
    conn.close()
    report = verify(source, pg_url, mode=mode, segment_rows=8)
    t = table(report, "t")
    assert {d.key["id"]: d.columns for d in t.differences} == {7: ["body"], 8: ["doc"]}
    w = table(report, "w")
    assert [(d.key, d.columns) for d in w.differences] == [({"k": "m"}, ["body"])]
    assert {*lowered} >= {("t", "body"), ("t", "doc"), ("w", "body")}


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_a_large_value_that_does_not_convert_is_reported_as_read_whole(
    copied: tuple[Path, str], lowered: list[Any], mode: str
) -> None:
    """Invalid UTF-8, a NUL byte, invalid JSON, JSON holding \\u0000, a large text in a JSON
    column that is no object: the same failures, on the same rows, as the whole values give
    (those rows are read whole again to say why)."""
    source, pg_url = copied
    conn = sqlite3.connect(source)
    bad = _text(7).encode()
    conn.execute(
        "UPDATE t SET body = CAST(? AS TEXT) WHERE id = 7",
        (bad[:200_001] + b"\xff" + bad[200_002:],),
    )
    conn.execute("UPDATE t SET body = ? WHERE id = 12", (_text(12)[:150_000] + "\x00" + _text(12),))
    conn.execute("UPDATE t SET doc = ? WHERE id = 8", (_doc(8)[:-1],))  # cut short
    conn.execute("UPDATE t SET doc = ? WHERE id = 13", (_doc(13)[:-1] + ', "n": "\\u0000"}',))
    conn.execute("UPDATE t SET doc = ? WHERE id = 24", ('"' + "x" * 200_000 + '"',))
    conn.execute("UPDATE w SET doc = ? WHERE k = 'm'", (_doc(100) + "]",))
    conn.commit()
    conn.close()
    report = verify(source, pg_url, mode=mode, segment_rows=8, show_values=True)
    assert {*lowered} >= {("t", "body"), ("t", "doc"), ("w", "doc")}
    t = table(report, "t")
    reasons = {d.key["id"]: d.reason for d in t.differences}
    assert set(reasons) == {7, 12, 8, 13, 24}, t.differences
    assert str(reasons[7]).startswith("body: invalid UTF-8 at byte 2000")
    assert reasons[12] == "body: NUL byte in text (PostgreSQL text cannot hold it)"
    assert reasons[8] == "doc: invalid JSON"
    assert "\\u0000" in str(reasons[13])
    assert reasons[24] is None  # a JSON string: converts, and differs
    w = table(report, "w")
    assert [d.reason for d in w.differences] == ["doc: invalid JSON"]
    pieces.LARGE_BYTES = 1 << 30
    assert _found(verify(source, pg_url, mode=mode, segment_rows=8, show_values=True)) == _found(
        report
    )


def test_the_cli_exits_9_for_one_character_in_a_large_text(copied: tuple[Path, str]) -> None:
    """At the real threshold: a 20 MB text, one character changed in PostgreSQL."""
    source, pg_url = copied
    big = "abcdefghi\n" * (2 << 20)
    conn = sqlite3.connect(source)
    conn.execute("UPDATE t SET body = ? WHERE id = 9", (big,))
    conn.commit()
    conn.close()
    execute(pg_url, "UPDATE t SET body = %s WHERE id = 9", (big,))
    result = CliRunner().invoke(app, ["verify", str(source), "--target", pg_url])
    assert result.exit_code == 0, result.stdout
    execute(
        pg_url, "UPDATE t SET body = overlay(body placing 'X' from 10000000 for 1) WHERE id = 9"
    )
    result = CliRunner().invoke(app, ["verify", str(source), "--target", pg_url])
    assert result.exit_code == ExitCode.MISMATCH, result.stdout
    assert 't: changed {"id": 9} columns body' in " ".join(result.stdout.split())


@pytest.mark.usefixtures("lowered")
def test_a_large_text_is_read_as_a_marker(copied: tuple[Path, str]) -> None:
    """What verify's reads hold of a large text: a marker, never its bytes; a path that would
    canonicalise the marker fails loudly instead of taking it for NULL."""
    source, pg_url = copied
    conn = lite.open_source(source)
    pg = pgside.open_target(pg_url)
    try:
        spec = _spec(conn, pg, "t")
        with pytest.raises(sqlite3.DataError, match="too big"):
            conn.execute(lite._select(spec, "id = 7", streamed=True)).fetchall()
        row = lite._one(conn, spec, "id = 7", [])
        assert row[3] == large.TEXT and row[4] == len(_text(7).encode())
        with pytest.raises(KeyError):
            lite.canonical(spec, row)
        with pieces.unbounded(conn):
            whole = conn.execute(lite._select(spec, "id = 7", streamed=True)).fetchone()
        assert lite.row_of(conn, spec, row).digest == lite.row_of(conn, spec, whole).digest
    finally:
        conn.close()
        pg.close()


TEXT_MB = 100


def _memory_source(path: Path, value: str, declared: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE docs (id INTEGER PRIMARY KEY, body {declared}, n INTEGER)")
    small = [
        (i, json.dumps({"i": i}) if declared == "JSON" else f"small {i}", i) for i in range(1, 1001)
    ]
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?)", small)
    conn.execute("INSERT INTO docs VALUES (5000, ?, 1)", (value,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["text", "json"])
def test_a_100_mb_text_or_json_verifies_in_bounded_memory(
    pg_url: str, tmp_path: Path, kind: str
) -> None:
    """Measured, not assumed: verify of a row holding a 100 MB text (or JSON object) peaks
    below the value's own size (before: 458 MB for the text, 588 MB for the JSON in full mode;
    now ~62 MB, and ~78 MB with a character changed and --show-values)."""
    src = tmp_path / f"{kind}.db"
    if kind == "text":
        value = "abcdefghi\n" * ((TEXT_MB << 20) // 10)
    else:
        value = "{" + ", ".join(f'"k{i}": [{i}, "vvvvvvvvvv"]' for i in range(3_000_000)) + "}"
    assert len(value) >= TEXT_MB << 20
    _memory_source(src, value, "TEXT" if kind == "text" else "JSON")
    del value
    assert copy(src, pg_url, tmp_path / "work").total.rejected_rows == 0
    verify_cmd = [
        sys.executable,
        "-m",
        "vendzz_migrate",
        "-q",
        "verify",
        str(src),
        "--target",
        pg_url,
    ]
    for mode in ("full", "checksum"):
        peak = peak_rss_mb(*verify_cmd, "--mode", mode)
        print(f"verify --mode {mode} of a {TEXT_MB} MB {kind}: peak RSS {peak:.0f} MB")
        assert peak < TEXT_MB, f"peak RSS {peak:.0f} MB"
    if kind == "text":
        change = (
            "UPDATE docs SET body = overlay(body placing 'X' from 50000000 for 1) WHERE id = 5000"
        )
    else:
        change = "UPDATE docs SET body = jsonb_set(body, '{k1500000,1}', '\"w\"') WHERE id = 5000"
    execute(pg_url, change)
    peak = peak_rss_mb(*verify_cmd, "--show-values", exit_code=ExitCode.MISMATCH)
    print(f"verify of a {TEXT_MB} MB {kind}, one value changed: peak RSS {peak:.0f} MB")
    assert peak < TEXT_MB, f"peak RSS {peak:.0f} MB"


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_double_encoded_and_json_columns_are_read_in_pieces(
    tmp_path: Path, pg_url: str, lowered: list[Any], mode: str
) -> None:
    """A large document encoded again as a JSON string (the copy sends the object inside,
    decoded level by level), one after white space, and a ``json`` column (its text kept
    verbatim): read in pieces, never whole; a change inside any of them is found on its row
    and column, with the report reading them whole gives."""
    source = tmp_path / "dj.db"
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE dj (id INTEGER PRIMARY KEY, doc JSON, raw JSON)")
    for i in range(1, 13):
        doc = _doc(i) if i in (2, 3, 5, 8) else json.dumps({"i": i})
        wrapped = json.dumps(json.dumps(doc)) if i == 3 else json.dumps(doc) if i != 5 else doc
        conn.execute(
            "INSERT INTO dj VALUES (?, ?, ?)", (i, " \n" + doc if i == 8 else wrapped, wrapped)
        )
    conn.commit()
    reader = open_readonly(source)
    mapping = inferrer.infer(reader, insp.introspect(reader), source=str(source))
    reader.close()
    conn.close()
    mapping.tables["dj"].columns["raw"].type = "json"
    mapping.tables["dj"].columns["raw"].convert = Kind.JSON
    (tmp_path / "m.yaml").write_text(maps.dump_yaml(mapping))
    copy(source, pg_url, tmp_path / "work", mapping_path=tmp_path / "m.yaml")
    assert execute(pg_url, "SELECT jsonb_typeof(doc), json_typeof(raw) FROM dj WHERE id = 3") == [
        ("object", "object")
    ]
    options = {"mode": mode, "segment_rows": 4}
    assert verify(source, pg_url, **options).ok
    assert ("dj", "read whole") not in lowered
    assert {("dj", "doc"), ("dj", "raw")} <= {*lowered}
    execute(pg_url, _flip_doc("dj", "id IN (2, 3, 8)"))
    execute(pg_url, "UPDATE dj SET raw = (raw::text || ' ')::json WHERE id = 5")
    report = verify(source, pg_url, show_values=True, **options)
    dj = table(report, "dj")
    assert {d.key["id"]: d.columns for d in dj.differences} == {
        2: ["doc"],
        3: ["doc"],
        5: ["raw"],
        8: ["doc"],
    }
    pieces.LARGE_BYTES = 1 << 30
    assert _found(verify(source, pg_url, show_values=True, **options)) == _found(report)
