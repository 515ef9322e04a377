"""Hand-built files with the values that make other diff tools cry wolf: byte-ordered text
keys, -0.0 and extreme floats, epoch seconds vs milliseconds, 0/1 booleans, JSON that jsonb
normalises, NULL vs '', blobs, renamed tables and columns, integer, composite and no keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.verify.helpers import copy, execute, is_utf8, needs_c, only_difference, table, verify
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import Kind, OnError
from vendzz_migrate.verify.model import DiffKind

IDS = ["B", "a", "é", "😀", "Z9", "10", "9", "a b", "quote'", "Ω"]
FLOATS = [-0.0, 1e308, 5e-324, 0.1, 1 / 3, 1e-300, 2.5, -7.0, 123456789.125, 1e15 + 0.3]
DOCS = [
    '{"b": 1, "a": 2, "a": 3}',
    '{ "x" : [1.50, 1e2, -0, 0.0, 1E-3, 12345678901234567890123, -0.0e5] }',
    '"{\\"inner\\": true}"',
    '{"é": "ü\\u00e9\\n\\t\\u0001/\\"", "ab": null, "b": {}}',
    "[]",
    '{"k": "😀", "kk": "\\ud83d\\ude00"}',
    '[1, [2, [3, {"z": false}]]]',
    '{"aaa": 1, "bb": 2, "c": 3, "": 0}',
    "not json at all",
    "123",
]


def _build(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE items (id TEXT PRIMARY KEY, price REAL, qty INTEGER, isActive INTEGER,
                            createdAt INTEGER, doc TEXT, note TEXT, payload BLOB);
        CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
        CREATE TABLE nums (id INTEGER PRIMARY KEY, v REAL, label TEXT);
        CREATE TABLE log (msg TEXT, at INTEGER);
    """)
    for i, key in enumerate(IDS):
        created = 1_700_000_000 + i if i % 3 == 0 else 1_700_000_000_123 + i  # s and ms
        conn.execute(
            "INSERT INTO items VALUES (?,?,?,?,?,?,?,?)",
            (
                key,
                FLOATS[i],
                i * 10**12 if i % 2 else -i,
                i % 2,
                created,
                DOCS[i],
                None if i % 2 else "",
                bytes([i, 0, 255]),
            ),
        )
    for a in ["x", "X", "é", "y", ""]:
        for b in [-1, 0, 1, 2**40]:
            conn.execute("INSERT INTO pairs VALUES (?,?,?)", (a, b, f"{a}{b}"))
    conn.executemany(
        "INSERT INTO nums VALUES (?,?,?)", [(i, i / 7, f"n{i}") for i in range(1, 3001)]
    )
    conn.executemany(
        "INSERT INTO log VALUES (?,?)",
        [("same", 1), ("same", 1), ("other", 2), ("", None), (None, 3)],
    )
    conn.commit()
    conn.close()


def _mapping(source: Path, dest: Path) -> Path:
    conn = open_readonly(source)
    conn.text_factory = bytes
    mapping = inferrer.infer(conn, insp.introspect(conn), source=str(source))
    conn.close()
    items = mapping.tables["items"]
    items.rename = "goods"
    items.columns["price"].rename = "unit_price"
    items.columns["doc"] = maps.ColumnMap(type="jsonb", convert=Kind.JSON, on_error=OnError.WRAP)
    items.columns["isActive"] = maps.ColumnMap(type="boolean", convert=Kind.BOOLEAN)
    items.columns["createdAt"] = maps.ColumnMap(type="timestamptz", convert=Kind.TIMESTAMP)
    dest.write_text(maps.dump_yaml(mapping), encoding="utf-8")
    return dest


@pytest.fixture
def edges(tmp_path: Path, pg_url: str) -> tuple[Path, str, Path]:
    source = tmp_path / "edges.db"
    _build(source)
    mapping = _mapping(source, tmp_path / "mapping.yaml")
    report = copy(source, pg_url, tmp_path / "work", mapping_path=mapping)
    assert report.total.rejected_rows == 0
    return source, pg_url, mapping


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_edge_values_verify_clean_and_key_ranges_agree(
    edges: tuple[Path, str, Path], mode: str
) -> None:
    source, pg_url, mapping = edges
    types = dict(
        execute(
            pg_url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'goods'",
        )
    )
    assert types["unit_price"] == "double precision"
    assert types["doc"] == "jsonb"
    for mapping_given in (None, mapping):  # the stored mapping of the run, or the file
        # two rows per segment: every text-key boundary must fall in the same place
        report = verify(source, pg_url, mode=mode, mapping_path=mapping_given, segment_rows=2)
        assert report.ok, report.summary()
        assert all(t.mismatched_segments == 0 for t in report.tables)
        assert [t.quarantined for t in report.tables] == [0, 0, 0, 0]
    assert table(report, "items").target == "goods"
    assert table(report, "log").note  # compared as a multiset


def test_composite_key_change_is_located(edges: tuple[Path, str, Path]) -> None:
    source, pg_url, _ = edges
    execute(pg_url, "UPDATE pairs SET v = 'changed' WHERE a = 'é' AND b = %s", (2**40,))
    t, diff = only_difference(verify(source, pg_url, segment_rows=3))
    assert (t.table, diff.kind, diff.key, diff.columns) == (
        "pairs",
        DiffKind.CHANGED,
        {"a": "é", "b": 2**40},
        ["v"],
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_integer_key_change_found_by_bisection(edges: tuple[Path, str, Path], workers: int) -> None:
    source, pg_url, _ = edges
    execute(pg_url, "UPDATE nums SET v = v + 1e-12 WHERE id = 1234")
    execute(pg_url, "DELETE FROM nums WHERE id = 2999")
    report = verify(source, pg_url, segment_rows=1000, show_values=True, workers=workers)
    nums = table(report, "nums")
    assert (nums.changed, nums.missing, nums.extra, nums.mismatched_segments) == (1, 1, 0, 2)
    changed = next(d for d in nums.differences if d.kind is DiffKind.CHANGED)
    assert (changed.key, changed.columns) == ({"id": 1234}, ["v"])
    missing = next(d for d in nums.differences if d.kind is DiffKind.MISSING)
    assert missing.key == {"id": 2999}
    assert missing.source is not None
    assert missing.source["label"] == "n2999"


def test_text_key_row_of_a_renamed_table(edges: tuple[Path, str, Path]) -> None:
    source, pg_url, _ = edges
    execute(pg_url, "UPDATE goods SET note = NULL WHERE id = 'B'")  # '' -> NULL
    execute(pg_url, "UPDATE goods SET doc = doc || '{\"ab\": null}' WHERE id = '😀'")  # same value
    t, diff = only_difference(verify(source, pg_url, mode="full"))
    assert (t.table, t.target, diff.key, diff.columns) == ("items", "goods", {"id": "B"}, ["note"])


def test_keyless_table_is_a_multiset(edges: tuple[Path, str, Path]) -> None:
    source, pg_url, _ = edges
    execute(pg_url, "DELETE FROM log WHERE ctid = (SELECT min(ctid) FROM log WHERE msg = 'same')")
    execute(pg_url, "INSERT INTO log VALUES ('new', 9)")
    report = verify(source, pg_url)
    log = table(report, "log")
    assert (log.missing, log.extra, log.changed) == (1, 1, 0)
    assert {d.kind for d in log.differences} == {DiffKind.MISSING, DiffKind.EXTRA}
    missing = next(d for d in log.differences if d.kind is DiffKind.MISSING)
    assert missing.key["rowid"] in (1, 2)  # one of the two identical rows


@pytest.mark.parametrize("name", ["nums", "items", "pairs", "log"])
def test_the_fast_tier_sums_equal_the_reference_sums(
    edges: tuple[Path, str, Path], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast tier (SQLite-built pieces, the C row loop) gives the very sums of the
    reference (every row through lite._row), and of the server: an integer key, a text key,
    a composite key (WITHOUT ROWID) and no key."""
    from vendzz_migrate.copy import plan as planner
    from vendzz_migrate.verify import fast, lite, pgside
    from vendzz_migrate.verify import spec as specs

    source, pg_url, mapping_path = edges
    mapping = maps.load(mapping_path)
    conn = lite.open_source(source)
    pg = pgside.open_target(pg_url)
    try:
        plan = planner.build(mapping, insp.introspect(conn))[name]
        spec = specs.build(
            plan,
            pgside.table_types(pg, "public", plan.target),
            mapping.tables[name].primary_key,
            frozenset(),
        )
        starts = lite.bounds(conn, spec, 3 if name != "nums" else 250) if spec.key_pos else []
        in_c = lite.segment_sums(conn, spec, starts)
        monkeypatch.setattr(fast, "has_sums", False)
        reference = lite.segment_sums(conn, spec, starts)
        if spec.key_pos:
            server = pgside.segment_sums(pg, spec, "public", [k for k, _ in starts])
        else:
            server = {0: pgside.totals(pg, spec, "public")}
    finally:
        conn.close()
        pg.close()
    assert in_c == reference
    assert len(in_c[0]) == len(starts) + 1 > (2 if spec.key_pos else 0)
    assert {i: s for i, s in enumerate(in_c[0]) if s != (0, 0)} == server


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_a_utf16_file_verifies_clean_and_a_change_is_found(
    tmp_path: Path, pg_url: str, mode: str
) -> None:
    """A file whose text is stored as UTF-16: SQLite's text operators work on UTF-16 there, so
    verify builds every value in Python (litesql.utf8); nothing may differ but the change."""
    source = tmp_path / "utf16.db"
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, n INTEGER, at INTEGER)")
    conn.executemany(
        "INSERT INTO notes VALUES (?,?,?,?)",
        [
            (f"k{i:03d}é", f"olá {i} 😀" if i % 3 else None, i, 1_700_000_000 + i)
            for i in range(300)
        ],
    )
    conn.commit()
    conn.close()
    copy(source, pg_url, tmp_path / "work")
    clean = verify(source, pg_url, mode=mode)
    assert clean.ok
    assert table(clean, "notes").mismatched_segments == 0  # no segment needed a closer look
    execute(pg_url, "UPDATE notes SET body = 'olá 7 😀 ' WHERE id = 'k007é'")
    found, diff = only_difference(verify(source, pg_url, mode=mode))
    assert (found.table, diff.kind, diff.key, diff.columns) == (
        "notes",
        DiffKind.CHANGED,
        {"id": "k007é"},
        ["body"],
    )


ODD_TEXT = st.sampled_from(["a", "", "é", "x\x00y", "😀"]) | st.binary(max_size=3)
ODD_KEY = (
    st.none()
    | st.integers(-2, 2)
    | st.text(max_size=3)
    | st.sampled_from([b"\xff", b"k\x00", b"\xc3"])
)
ODD_DOC = st.none() | st.sampled_from(
    ['{"b": 1, "aa": [2]}', "[]", "1.5", "not json", '{"a": "\\u0000"}', '"{\\"x\\": 1}"', "123"]
)


@needs_c
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(ODD_KEY, ODD_TEXT | st.none(), ODD_DOC, st.integers(-3, 3)),
        min_size=1,
        max_size=40,
    ),
    every=st.integers(2, 7),
)
def test_the_c_row_loop_gives_the_reference_sums(
    tmp_path: Path, rows: list[Any], every: int
) -> None:
    """lite.segment_sums' fast tier (the C row loop, _speed.sums): the same sums, and the
    same rows set aside, as the reference (every row through lite._row), whatever the rows
    hold (NUL, bytes that are not UTF-8, integer or NULL keys, JSON that does not convert)."""
    from vendzz_migrate.copy import plan as planner
    from vendzz_migrate.verify import fast, lite
    from vendzz_migrate.verify import spec as specs

    assert fast.has_sums
    source = tmp_path / f"odd{len(rows)}-{every}.db"
    source.unlink(missing_ok=True)
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE odd (id TEXT PRIMARY KEY, body TEXT, doc TEXT, n INTEGER)")
    seen: set[Any] = set()
    for key, body, doc, n in rows:
        # the key column has TEXT affinity: 2 is stored as '2', and str and bytes as text
        same = (
            str(key).encode()
            if isinstance(key, int)
            else (key.encode() if isinstance(key, str) else key)
        )
        if same in seen:
            continue
        seen.add(same)
        conn.execute(
            "INSERT INTO odd VALUES ("
            + ", ".join("CAST(? AS TEXT)" if isinstance(v, bytes) else "?" for v in (key, body))
            + ", ?, ?)",
            (key, body, doc, n),
        )
    conn.commit()
    conn.close()
    reader = lite.open_source(source)
    try:
        mapping = inferrer.infer(reader, insp.introspect(reader), source=str(source))
        odd = mapping.tables["odd"]
        # the keyed path over NULL keys (inferred, a key holding NULLs is null_key: unique)
        odd.primary_key, odd.null_key = ["id"], maps.NullKey.REJECT
        odd.columns["id"].not_null = True
        odd.columns["doc"] = maps.ColumnMap(type="jsonb", convert=Kind.JSON)
        odd.columns["body"] = maps.ColumnMap(type="text", convert=Kind.TEXT)
        plan = planner.build(mapping, insp.introspect(reader))["odd"]
        spec = specs.build(
            plan,
            {"id": "text", "body": "text", "doc": "jsonb", "n": "bigint"},
            odd.primary_key,
            frozenset(),
        )
        starts = lite.bounds(reader, spec, every)
        in_c = lite.segment_sums(reader, spec, starts)
        fast.has_sums = False
        try:
            reference = lite.segment_sums(reader, spec, starts)
        finally:
            fast.has_sums = True
    finally:
        reader.close()
    assert in_c[2] == reference[2] == len(seen)
    # the fast tier hashes a non-key value that is not UTF-8 as its raw bytes (no PostgreSQL
    # row can match them; the drill-down then finds the row), the reference as an
    # unconvertible row: elsewhere the two agree
    if all(not isinstance(body, bytes) or is_utf8(body) for _, body, _, _ in rows):
        assert in_c[0] == reference[0]
    else:
        assert [n for n, _ in in_c[0]] == [n for n, _ in reference[0]]
    assert sorted(r.rowid or 0 for r in in_c[1]) == sorted(r.rowid or 0 for r in reference[1])


def test_a_client_encoding_from_the_environment_changes_nothing(
    edges: tuple[Path, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server hashes each value's UTF-8 bytes (textsend in a UTF8 session): a session
    that would otherwise speak LATIN1 (PGCLIENTENCODING) neither fails on '😀' nor hashes
    other bytes."""
    source, pg_url, mapping = edges
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    report = verify(source, pg_url, mapping_path=mapping)
    assert report.ok, report.summary()
    assert all(t.mismatched_segments == 0 for t in report.tables)


def test_a_key_postgresql_cannot_hold_is_missing_even_when_no_reject_was_recorded(
    tmp_path: Path, pg_url: str
) -> None:
    """A text key that is not UTF-8: the copy rejects its row; were that record lost, the row
    must still be reported (it was hashed into its segment in storage order, and the segment's
    drill-down skipped it: a silent "all good")."""
    source = tmp_path / "badkey.db"
    conn = sqlite3.connect(source)
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(f"k{i:03d}", "v") for i in range(50)])
    conn.execute("INSERT INTO t VALUES (CAST(X'6bc3' AS TEXT), 'v')")  # 'k' + a cut 'é'
    conn.commit()
    conn.close()
    copy(source, pg_url, tmp_path / "work")
    assert table(verify(source, pg_url), "t").quarantined == 1
    execute(pg_url, "DELETE FROM vendzz_migrate.rejects")
    report = verify(source, pg_url)
    t = table(report, "t")
    assert not report.ok
    assert (t.missing, t.quarantined, t.changed, t.extra) == (1, 0, 0, 0)
    assert "invalid UTF-8" in (t.differences[0].reason or "")


def test_sums_that_differ_with_no_row_found_are_never_a_match(
    edges: tuple[Path, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net: if the source's segment sums and its rows' hashes ever disagree (a bug),
    the drill-down finds no row, and the table must still fail."""
    from vendzz_migrate.verify import compare, lite

    source, pg_url, mapping = edges
    real = lite.segment_sums

    def skewed(*args: Any, **kwargs: Any) -> Any:
        sums, aside, read = real(*args, **kwargs)
        return [(n, s + 1) for n, s in sums], aside, read

    monkeypatch.setattr(lite, "segment_sums", skewed)
    report = verify(source, pg_url, mapping_path=mapping, workers=1)
    for name in ("nums", "log"):  # a keyed table and a table without a key
        t = table(report, name)
        assert t.status.value == "mismatch", name
        assert t.differences[-1].reason == compare.UNLOCATED
