"""Large bytea values (over 1 MB) are left in SQLite and hashed a piece at a time (issue #11):
verify must still see one byte, a length, a NULL, in every path that reads a row (checksum
sums, bisection, full mode, workers, the changed row's columns, tables without a key or
without rowids)."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.verify.helpers import copy, execute, table, verify
from vendzz_migrate.cli import app
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.state.store import Store
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import LARGE_BLOB
from vendzz_migrate.verify import blobs, compare, lite, pgside
from vendzz_migrate.verify import spec as specs
from vendzz_migrate.verify.model import DiffKind

BIG = 5 << 20  # five times verify's threshold
MIDDLE = BIG // 2
LARGE_IDS = (7, 12, 23, 33)


def _big(seed: int) -> bytes:
    return random.Random(seed).randbytes(BIG)


def _build(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB, note TEXT);
        CREATE TABLE w (k TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID;
        CREATE TABLE k (data BLOB, n INTEGER);
    """)
    for i in range(1, 41):
        data: bytes | None = _big(i) if i in LARGE_IDS else bytes([i, 0, 255]) * i
        data = None if i == 30 else b"" if i == 31 else data
        conn.execute("INSERT INTO b VALUES (?, ?, ?)", (i, data, f"row {i}"))
    conn.executemany("INSERT INTO w VALUES (?, ?)", [("a", b"x"), ("m", _big(100)), ("z", b"")])
    conn.executemany("INSERT INTO k VALUES (?, ?)", [(_big(200), 1), (b"small", 2)])
    conn.commit()
    conn.close()


@pytest.fixture
def copied(tmp_path: Path, pg_url: str) -> tuple[Path, str]:
    source = tmp_path / "large.db"
    _build(source)
    report = copy(source, pg_url, tmp_path / "work")
    assert report.total.rejected_rows == 0
    return source, pg_url


def _flip(where: str, table: str = "b") -> str:
    """One byte in the middle of the value, to its complement (always a change)."""
    return (
        f"UPDATE {table} SET data = set_byte(data, {MIDDLE}, 255 - get_byte(data, {MIDDLE}))"
        f" WHERE {where}"
    )


CHANGES = (
    _flip("id = 7"),
    "UPDATE b SET data = NULL WHERE id = 12",  # a large value against NULL
    "UPDATE b SET data = substring(data from 1 for length(data) - 1) WHERE id = 23",
    "UPDATE b SET data = data || '\\x00'::bytea WHERE id = 33",  # the same bytes, one more
    "UPDATE b SET data = ''::bytea WHERE id = 30",  # NULL in SQLite
    "UPDATE b SET data = NULL WHERE id = 31",  # empty in SQLite
    _flip("k = 'm'", "w"),
    _flip("n = 1", "k"),
)
CHANGED_IDS = [7, 12, 23, 30, 31, 33]


def _spec(conn: sqlite3.Connection, pg: Any, name: str) -> specs.Spec:
    """The table as verify compares it, with the mapping the copy stored."""
    prior = Store(pg).active_run("public")
    assert prior is not None
    mapping = maps.parse(prior.mapping)
    plan = planner.build(mapping, insp.introspect(conn))[name]
    types = pgside.table_types(pg, "public", name)
    return specs.build(plan, types, mapping.tables[name].primary_key, frozenset())


def _shown(data: bytes) -> str:
    return f"<{len(data)} bytes, md5 {hashlib.md5(data).hexdigest()}>"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_one_byte_a_length_or_a_null_in_a_large_blob_is_a_changed_row(
    copied: tuple[Path, str], mode: str, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clean: everything matches (the large values read by incremental blob I/O, or whole in
    the WITHOUT ROWID table). Then every change of CHANGES is found, in its row, with its
    column, and the values shown as size and md5 (never megabytes of hex); with workers,
    large tables are cut into rowid ranges whose rows come back to this process as markers."""
    source, pg_url = copied
    opened: list[int] = []
    real = blobs._blob_pieces

    def spy(*args: Any) -> Any:
        opened.append(args[3])
        return real(*args)

    monkeypatch.setattr(blobs, "_blob_pieces", spy)
    options: dict[str, Any] = {"mode": mode, "workers": workers, "segment_rows": 8}
    if workers > 1:
        options |= {"parallel_min_rows": 0, "split_rows": 5}
    assert verify(source, pg_url, **options).ok
    if workers == 1:  # (workers are other processes)
        assert sorted(set(opened)) == sorted({*LARGE_IDS, 1})  # b's rowids, k's first row
    for sql in CHANGES:
        execute(pg_url, sql)
    report = verify(source, pg_url, show_values=True, **options)
    assert not report.ok
    b = table(report, "b")
    assert b.changed == len(CHANGED_IDS) and not (b.missing or b.extra), b
    assert sorted(d.key["id"] for d in b.differences) == CHANGED_IDS
    assert all(d.columns == ["data"] and d.kind is DiffKind.CHANGED for d in b.differences)
    shown = {d.key["id"]: (d.source, d.target) for d in b.differences}
    changed = bytearray(_big(7))
    changed[MIDDLE] ^= 0xFF
    assert shown[7] == ({"data": _shown(_big(7))}, {"data": _shown(bytes(changed))})
    assert shown[12] == ({"data": _shown(_big(12))}, {"data": None})
    assert shown[23][1] == {"data": _shown(_big(23)[:-1])}
    assert shown[33][1] == {"data": _shown(_big(33) + b"\x00")}
    assert shown[30] == ({"data": None}, {"data": ""})
    assert shown[31] == ({"data": ""}, {"data": None})
    w = table(report, "w")
    assert (w.changed, [d.key for d in w.differences]) == (1, [{"k": "m"}])
    assert w.differences[0].columns == ["data"]
    k = table(report, "k")
    assert (k.missing, k.extra, k.changed) == (1, 1, 0)


def test_bisection_goes_down_to_the_row_of_a_changed_large_blob(
    copied: tuple[Path, str],
) -> None:
    """Checksums of sub-segments on both sides (fanout 2, leaf of 2 rows): each level's
    source sums come from rows whose large values are hashed in pieces."""
    source, pg_url = copied
    for sql in CHANGES[:4]:
        execute(pg_url, sql)
    conn = lite.open_source(source)
    pg = pgside.open_target(pg_url)
    try:
        spec = _spec(conn, pg, "b")
        ctx = compare.Ctx(conn, pg, "public", segment_rows=20, leaf_rows=2, fanout=2)
        result = compare.compare_table(ctx, spec, "checksum")
    finally:
        conn.close()
        pg.close()
    assert result.mismatched_segments == 2  # ids 7 and 12, then 23 and 33
    assert sorted(d.key["id"] for d in result.differences) == [7, 12, 23, 33]


def test_the_cli_exits_9_for_one_byte_in_a_large_blob(copied: tuple[Path, str]) -> None:
    source, pg_url = copied
    execute(pg_url, CHANGES[0])
    result = CliRunner().invoke(app, ["verify", str(source), "--target", pg_url])
    assert result.exit_code == ExitCode.MISMATCH, result.stdout
    assert 'b: changed {"id": 7} columns data' in " ".join(result.stdout.split())


def test_a_large_blob_is_read_as_a_marker(copied: tuple[Path, str]) -> None:
    """What verify's row reads hold of a large value: its length, never its bytes; a path
    that would canonicalise the marker fails loudly instead of taking it for NULL."""
    source, pg_url = copied
    conn = lite.open_source(source)
    pg = pgside.open_target(pg_url)
    try:
        spec = _spec(conn, pg, "b")
        (row,) = conn.execute(lite._select(spec, "id = 7", streamed=True)).fetchall()
        assert row[3:5] == (blobs.MARK, BIG)
        with pytest.raises(KeyError):
            lite.canonical(spec, row)
        small = conn.execute(lite._select(spec, "id = 8", streamed=True)).fetchone()
        assert small[3:5] == (b"blob", bytes([8, 0, 255]) * 8)
        whole = conn.execute(lite._select(spec, "id = 7")).fetchone()  # others' reads
        assert len(whole[4]) == BIG > LARGE_BLOB
        assert lite.row_of(conn, spec, row).digest == lite.row_of(conn, spec, whole).digest
    finally:
        conn.close()
        pg.close()
