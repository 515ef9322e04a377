"""Rejected rows holding very large values (issue #11 finding 8): such a value is never read
whole for its reject record; its bytes go, a piece at a time, to ``reject_pieces``, and the
record holds a small lossless reference (size, md5)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.copy.helpers import copy_cli, rows
from tests.copy.test_large_values import peak_rss_mb
from vendzz_migrate.copy import large
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly, pieces
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.typemap.convert import Kind
from vendzz_migrate.typemap.values import Raw, encode_raw


def large_ref(value: bytes, kind: str = "text", encoding: str | None = None) -> dict[str, Any]:
    """The reference a reject record holds for a large value (its stored bytes ``value``)."""
    large: dict[str, Any] = {"bytes": len(value), "md5": hashlib.md5(value).hexdigest()}
    if encoding is not None:
        large["encoding"] = encoding
    return {"type": kind, "large": large | {"pieces": "vendzz_migrate.reject_pieces"}}


def reassembled(pg_url: str, where: str = "", params: tuple[Any, ...] = ()) -> bytes:
    """A large rejected value's bytes put back together from ``reject_pieces``."""
    sql = f"SELECT string_agg(piece, '' ORDER BY seq) FROM vendzz_migrate.reject_pieces {where}"
    return bytes(rows(pg_url, sql, params)[0][0])


def _docs(path: Path, body: bytes) -> Path:
    """Table ``docs``: 100 small rows and row 1000, ``body`` stored as text."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO docs VALUES (?, ?)", [(i, f"row {i}") for i in range(1, 101)])
    conn.execute("INSERT INTO docs VALUES (1000, CAST(? AS TEXT))", (body,))
    conn.commit()
    conn.close()
    return path


def test_a_48_mb_rejected_text_is_recorded_in_bounded_memory(pg_url: str, tmp_path: Path) -> None:
    """Measured: the copy of a 48 MB text holding a NUL (PostgreSQL text cannot hold it: the
    row is rejected, exit 8) takes less than a quarter of the value over the same copy with a
    3-byte value rejected (58 MB): 478 MB in all before (the row read whole, base64-encoded,
    dumped as JSON twice); 63 MB now. One copy of the value held anywhere fails."""
    value = ("lorem ipsum " * 4_000_000 + "\x00" + "tail" * 1000).encode()
    src = _docs(tmp_path / "nul.db", value)
    nbytes, digest = len(value), hashlib.md5(value).hexdigest()
    size_mb = nbytes / 1e6
    del value
    base = _docs(tmp_path / "small.db", b"a\x00b")

    def peak(source: Path, schema: str) -> float:
        cmd = [sys.executable, "-m", "vendzz_migrate", "-q", "sqlite-to-pg", str(source)]
        cmd += ["--target", pg_url, "--schema", schema, "--work-dir", str(tmp_path / schema)]
        return peak_rss_mb(*cmd, exit_code=ExitCode.REJECTS)

    baseline, large = peak(base, "base"), peak(src, "s")
    print(f"copy of a rejected {size_mb:.0f} MB text: peak RSS {large:.0f} MB ({baseline:.0f})")
    assert large - baseline < size_mb / 4, f"peak RSS {large:.0f} MB, {baseline:.0f} without"
    got = rows(
        pg_url,
        "SELECT id, source_key, column_name, reason, raw_value, raw_row"
        " FROM vendzz_migrate.rejects ORDER BY length(raw_row::text)",
    )
    assert len(got) == 2, [g[:4] for g in got]  # the 3-byte value's, then the large one's
    assert got[0][4] == {"type": "text", "base64": "YQBi"}
    del got[0]
    reject_id, key, column, reason, raw_value, raw_row = got[0]
    assert (key, column) == ({"id": 1000, "rowid": 1000}, "body")
    assert reason == "NUL byte in text (PostgreSQL text cannot hold it)"
    reference = {"bytes": nbytes, "md5": digest, "pieces": "vendzz_migrate.reject_pieces"}
    assert raw_value == {"type": "text", "large": reference}
    assert raw_row == {"id": {"type": "integer", "value": "1000"}, "body": raw_value}
    (stored,) = rows(
        pg_url,
        "SELECT md5(string_agg(piece, '' ORDER BY seq)), sum(length(piece)), count(*)"
        " FROM vendzz_migrate.reject_pieces WHERE reject_id = %s AND column_name = 'body'",
        (reject_id,),
    )
    assert stored == (digest, nbytes, 46)  # 1 MiB pieces
    (count,) = rows(pg_url, "SELECT count(*) FROM vendzz_migrate.reject_pieces")[0]
    assert count == 46  # the small reject has none


def _inferred(src: Path) -> maps.Mapping:
    reader = open_readonly(src)
    mapping = inferrer.infer(reader, insp.introspect(reader), source=str(src))
    reader.close()
    return mapping


def _expected(src: Path, table: str, key: object, column: str) -> bytes:
    """A value's stored bytes, as SQLite holds them."""
    conn = sqlite3.connect(src)
    where = "k" if table == "w" else "id"
    (value,) = conn.execute(
        f"SELECT CAST({column} AS BLOB) FROM {table} WHERE {where} = ?", (key,)
    ).fetchone()
    conn.close()
    return bytes(value)


def _small(src: Path, table: str, key: object, column: str) -> dict[str, object]:
    """A small value as the rejects table encodes it."""
    conn = sqlite3.connect(src)
    conn.text_factory = bytes
    where = "k" if table == "w" else "id"
    kind, value = conn.execute(
        f"SELECT typeof({column}), {column} FROM {table} WHERE {where} = ?", (key,)
    ).fetchone()
    conn.close()
    return encode_raw(Raw(kind.decode(), value))


def _pieces_state(pg_url: str) -> tuple[int, int]:
    """(pieces, pieces of no reject)."""
    (found,) = rows(
        pg_url,
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM"
        " vendzz_migrate.rejects r WHERE r.id = p.reject_id)) FROM vendzz_migrate.reject_pieces p",
    )
    return int(found[0]), int(found[1])


def test_large_values_of_rejected_rows_are_kept_exactly_in_pieces(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threshold lowered to 100 kB, odd piece sizes: in a rowid and a WITHOUT ROWID table,
    rows rejected for a large text with a NUL, a large invalid UTF-8 text, a large varchar(n)
    too long, a large blob in a bigint column, and a small NUL text beside a large blob keep
    every large value's exact bytes in ``reject_pieces`` (size and md5 in the reference too),
    the other values, reason, column and identity as before (a small reject among them as
    before); exit 8; --restart leaves no stale piece."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    monkeypatch.setattr(pieces, "KEYED_CHUNK", 44_444)
    src = tmp_path / "r.db"
    conn = sqlite3.connect(src)
    columns = "body TEXT, code VARCHAR(150000), n INTEGER, data BLOB"
    conn.executescript(f"""
        CREATE TABLE r (id INTEGER PRIMARY KEY, {columns});
        CREATE TABLE w (k TEXT PRIMARY KEY, {columns}) WITHOUT ROWID;
    """)
    nul = "é\tà\\n\n\r😀" * 10_000 + "\x00" + "end"
    blob = os.urandom(150_000)
    values = [
        ("small", "x", 1, b"\x00\x01"),  # copied
        (nul, "x", 2, blob),  # NUL in a large text; a large blob beside it
        ("c\x00", "x", 3, None),  # a small NUL text only, recorded before the next (ids)
        ("INVALID", "x", 3, None),  # a large text that is not UTF-8 (set below)
        ("ok", "ü" * 150_001, 4, None),  # longer than varchar(150000)
        ("ok", "x", os.urandom(120_000), b""),  # a large blob in a bigint column
        ("a\x00b", "x", 6, blob),  # a small NUL text, a large blob beside it
        ("é" * 80_000, "ü" * 149_000, 7, blob),  # copied, its values streamed
    ]
    for table, keys in (("r", range(1, 9)), ("w", "abcdefgh")):
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
            [(k, *v) for k, v in zip(keys, values, strict=True)],
        )
        conn.execute(
            f"UPDATE {table} SET body = CAST(? AS TEXT) WHERE body = 'INVALID'",
            (b"\xff\xfeok" * 40_000,),
        )
    conn.commit()
    mapping = _inferred(src)
    for table in ("r", "w"):
        mapping.tables[table].columns["code"].type = "varchar(150000)"
        for name, kind, pg_type in (("n", Kind.INTEGER, "bigint"), ("data", Kind.BYTES, "bytea")):
            mapping.tables[table].columns[name].convert = kind
            mapping.tables[table].columns[name].type = pg_type
    (tmp_path / "m.yaml").write_text(maps.dump_yaml(mapping))
    conn.close()
    args = ("--mapping", str(tmp_path / "m.yaml"), "--workers", "1", "--batch-rows", "2")
    code, out = copy_cli(src, pg_url, tmp_path / "work", *args)
    assert code == ExitCode.REJECTS, out
    large_values = _check_rejects(pg_url, src)
    # 2: body and data; 4: body; 5: code; 6: n; 7: data
    assert large_values == 2 * 6
    before = _pieces_state(pg_url)
    assert before[0] > 0 and before[1] == 0
    (ids,) = rows(pg_url, "SELECT array_agg(id) FROM vendzz_migrate.rejects")[0]
    code, out = copy_cli(src, pg_url, tmp_path / "work", *args, "--restart")
    assert code == ExitCode.REJECTS, out
    assert _pieces_state(pg_url) == before  # the new run's pieces only
    (stale,) = rows(
        pg_url,
        "SELECT count(*) FROM vendzz_migrate.reject_pieces WHERE reject_id = ANY(%s)",
        (ids,),
    )[0]
    assert stale == 0
    assert rows(pg_url, "SELECT body FROM r WHERE id = 8") == [("é" * 80_000,)]


def _check_rejects(pg_url: str, src: Path) -> int:
    """Every reject of the test below as expected; how many large values they hold."""
    got = rows(
        pg_url,
        "SELECT id, table_name, source_key, column_name, reason, raw_value, raw_row"
        " FROM vendzz_migrate.rejects ORDER BY table_name, id",
    )
    reasons = {
        2: ("body", "NUL byte in text (PostgreSQL text cannot hold it)"),
        3: ("body", "NUL byte in text (PostgreSQL text cannot hold it)"),
        4: ("body", "invalid UTF-8 at byte 0"),
        5: ("code", "text of 150001 characters is longer than varchar(150000)"),
        6: ("n", "is not an integer"),
        7: ("body", "NUL byte in text (PostgreSQL text cannot hold it)"),
    }
    seen, large_values = [], 0
    for reject_id, table, source_key, column, reason, raw_value, raw_row in got:
        if table == "r":
            assert source_key["id"] == source_key["rowid"]
            key: object = source_key["id"]
            number, key_column = int(source_key["id"]), "id"
        else:
            key = source_key["k"]
            number, key_column = "abcdefgh".index(str(key)) + 1, "k"
            assert source_key == {"k": key}
        seen.append((table, number))
        assert column == reasons[number][0]
        assert reasons[number][1] in reason
        assert raw_value == raw_row[column]
        assert set(raw_row) == {key_column, "body", "code", "n", "data"}
        for name, encoded in raw_row.items():
            if "large" not in encoded:
                assert encoded == _small(src, table, key, name), (table, key, name)
                continue
            large_values += 1
            expected = _expected(src, table, key, name)
            assert len(expected) > 100_000
            assert encoded["large"] == large_ref(expected)["large"]
            whole = reassembled(
                pg_url, "WHERE reject_id = %s AND column_name = %s", (reject_id, name)
            )
            assert whole == expected, (table, key, name)
    assert sorted(seen) == [(t, n) for t in ("r", "w") for n in (2, 3, 4, 5, 6, 7)]
    return large_values


def test_a_slow_row_holding_a_large_value_is_never_read_whole(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row sent to the slow path by a small value (text in a bigint column of no
    affinity), the fast query leaving its large text unread (NOT NULL: not counted as a NULL
    either): read bound, it goes field by field, its large text streamed when the row is
    copied, referenced in pieces when it is rejected."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    by_fields: list[object] = []
    real = large.row_fields

    def spy(*args: Any) -> Any:
        by_fields.append(args[2])
        return real(*args)

    monkeypatch.setattr(large, "row_fields", spy)
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, n, body TEXT NOT NULL)")
    text = "é\tà\\n\n\r" * 20_000
    conn.executemany(
        "INSERT INTO s VALUES (?, ?, ?)",
        [(1, 1, "a"), (2, "abc", text), (3, "12", text), (4, 4, "b")],
    )
    conn.commit()
    conn.close()
    mapping = _inferred(src)
    mapping.tables["s"].columns["n"].convert = Kind.INTEGER
    mapping.tables["s"].columns["n"].type = "bigint"
    (tmp_path / "m.yaml").write_text(maps.dump_yaml(mapping))
    args = ("--mapping", str(tmp_path / "m.yaml"), "--workers", "1", "--batch-rows", "10")
    code, out = copy_cli(src, pg_url, tmp_path / "work", *args)
    assert code == ExitCode.REJECTS, out
    assert rows(pg_url, "SELECT id, n, body = %s FROM s ORDER BY id", (text,)) == [
        (1, 1, False),
        (3, 12, True),
        (4, 4, False),
    ]
    ((column, reason, raw_value, raw_row),) = rows(
        pg_url, "SELECT column_name, reason, raw_value, raw_row FROM vendzz_migrate.rejects"
    )
    assert (column, raw_value) == ("n", {"type": "text", "value": "abc"})
    assert "is not an integer" in reason
    value = text.encode()
    assert raw_row["body"] == large_ref(value)
    assert reassembled(pg_url) == value
    assert len(by_fields) == 2  # rows 2 and 3


def test_a_large_rejected_text_of_a_utf16_file_keeps_its_stored_bytes(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file not stored as UTF-8: the pieces are the text's stored bytes, and the reference
    names their encoding."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    src = tmp_path / "u.db"
    conn = sqlite3.connect(src)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, body TEXT)")
    text = "é😀 lorem" * 10_000 + "\x00"
    conn.executemany("INSERT INTO u VALUES (?, ?)", [(1, "a"), (2, text)])
    conn.commit()
    conn.close()
    code, out = copy_cli(src, pg_url, tmp_path / "work", "--workers", "1")
    assert code == ExitCode.REJECTS, out
    ((key, reason, raw_value, raw_row),) = rows(
        pg_url, "SELECT source_key, reason, raw_value, raw_row FROM vendzz_migrate.rejects"
    )
    stored = text.encode("utf-16-le")
    assert key == {"id": 2, "rowid": 2}
    assert reason == "NUL byte in text (PostgreSQL text cannot hold it)"
    assert raw_value == raw_row["body"] == large_ref(stored, encoding="UTF-16le")
    assert reassembled(pg_url) == stored


def test_a_large_value_postgresql_refuses_is_recorded_in_pieces(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large JSON object streamed into COPY that jsonb refuses (PostgreSQL names the line
    and column): the row is rejected with PostgreSQL's reason, the document in pieces."""
    monkeypatch.setattr(pieces, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(pieces, "CHUNK", 33_333)
    src = tmp_path / "j.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE j (id INTEGER PRIMARY KEY, doc JSON)")
    broken = '{"a": [' + ", ".join(f'"é{i}"' for i in range(20_000)) + "}"
    conn.executemany("INSERT INTO j VALUES (?, ?)", [(1, "{}"), (2, broken), (3, "[1]")])
    conn.commit()
    conn.close()
    mapping = _inferred(src)
    mapping.tables["j"].columns["doc"].convert = Kind.JSON
    mapping.tables["j"].columns["doc"].type = "jsonb"
    (tmp_path / "m.yaml").write_text(maps.dump_yaml(mapping))
    args = ("--mapping", str(tmp_path / "m.yaml"), "--workers", "1")
    code, out = copy_cli(src, pg_url, tmp_path / "work", *args)
    assert code == ExitCode.REJECTS, out
    ((key, column, reason, raw_value, raw_row),) = rows(
        pg_url,
        "SELECT source_key, column_name, reason, raw_value, raw_row FROM vendzz_migrate.rejects",
    )
    assert (key, column) == ({"id": 2, "rowid": 2}, "doc")
    assert reason.startswith("PostgreSQL refused the value: invalid input syntax for type json")
    value = broken.encode()
    assert raw_value == raw_row["doc"] == large_ref(value)
    assert reassembled(pg_url) == value
    assert rows(pg_url, "SELECT id FROM j ORDER BY id") == [(1,), (3,)]
