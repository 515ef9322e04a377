"""Very large values (issue #11): streamed into COPY, so that a row's size, not a multiple of
it, sets the memory of the copy; every value still arrives exactly (verify)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.copy.helpers import copy, rows, verified
from vendzz_migrate.copy import large

BLOB_MB = 100


def test_large_values_are_streamed_exactly(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the threshold lowered to 100 kB (one process, so that it applies; above any page
    size, as the real one is), rows holding large blobs and texts (tabs, newlines,
    backslashes, multi-byte characters) go the streamed way among ordinary rows; a large
    text that is not UTF-8 is rejected like any."""
    monkeypatch.setattr(large, "LARGE_BYTES", 100_000)
    monkeypatch.setattr(large, "CHUNK", 33_333)  # chunks cut through multi-byte characters
    streamed: list[str] = []
    for name in ("_hex_writer", "_text_writer"):

        def spy(*args: object, real: object = getattr(large, name), name: str = name) -> object:
            streamed.append(name)
            return real(*args)  # type: ignore[operator]

        monkeypatch.setattr(large, name, spy)
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, data BLOB, n INTEGER)")
    text = "é\tà\\n\n\r" * 20_000 + "end"
    conn.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?)",
        [
            (1, "small", b"\x00\x01", 1),
            (2, text, os.urandom(150_000), 2),
            (3, None, bytes(range(256)) * 600, None),
            (4, "x" * 99_999, b"", 4),
            (5, "tail", None, 5),
        ],
    )
    conn.execute(
        "INSERT INTO docs VALUES (6, CAST(? AS TEXT), NULL, 6)", (b"\xff\xfe" * 60_000,)
    )  # invalid UTF-8 stored as text
    conn.commit()
    conn.close()
    report = copy(src, pg_url, tmp_path, workers=1, batch_rows=2)
    assert report.total.copied_rows == 5 and report.total.rejected_rows == 1
    (reason,) = rows(pg_url, "SELECT reason FROM vendzz_migrate.rejects")[0]
    assert "UTF-8" in reason
    assert rows(pg_url, "SELECT body FROM docs WHERE id = 2") == [(text,)]
    assert sorted(set(streamed)) == ["_hex_writer", "_text_writer"]  # not read whole
    verified(src, pg_url, mode="full")


def peak_rss_mb(*args: str) -> float:
    """Peak RSS of a command and every process it started (workers), in MB."""
    probe = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "assert code == 0, code\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], check=True, capture_output=True, text=True
    ).stdout
    return int(out.split()[-1]) / 1024


def test_a_100_mb_blob_copies_in_bounded_memory(pg_url: str, tmp_path: Path) -> None:
    """Measured, not assumed: the copy of a row holding a 100 MB blob peaks below the blob's
    own size over the process's baseline (it took 0.97 GB before values were streamed)."""
    src = tmp_path / "blob.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB)")
    conn.execute("INSERT INTO b VALUES (1, ?)", (os.urandom(BLOB_MB << 20),))
    conn.commit()
    conn.close()
    peak = peak_rss_mb(
        sys.executable,
        "-m",
        "vendzz_migrate",
        "-q",
        "sqlite-to-pg",
        str(src),
        "--target",
        pg_url,
        "--work-dir",
        str(tmp_path),
    )
    print(f"copy of a {BLOB_MB} MB blob: peak RSS {peak:.0f} MB")
    assert peak < BLOB_MB, f"peak RSS {peak:.0f} MB"
    (size,) = rows(pg_url, "SELECT length(data) FROM b")[0]
    assert size == BLOB_MB << 20
    # verify hashes the blob in Python, its hex text a piece at a time: the value as SQLite
    # and Python each hold it, twice its size (it took 1.15 GB, the hex text built 5 times)
    peak = peak_rss_mb(
        sys.executable,
        "-m",
        "vendzz_migrate",
        "-q",
        "verify",
        str(src),
        "--target",
        pg_url,
        "--mode",
        "full",
    )
    print(f"verify of a {BLOB_MB} MB blob: peak RSS {peak:.0f} MB")
    assert peak < 3 * BLOB_MB, f"peak RSS {peak:.0f} MB"


@pytest.mark.parametrize("mode", ["checksum", "full"])
def test_verify_hashes_a_large_blob_in_pieces_and_still_sees_one_byte(
    mode: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob over verify's 1 MB threshold is hashed piece by piece: equal when equal, and one
    byte changed in PostgreSQL is a changed row."""
    from tests.verify.helpers import verify
    from vendzz_migrate.verify import lite

    pieces: list[int] = []
    real = lite.row_digest

    def spy(values: list[bytes | None], large: dict[int, bytes] | None = None) -> bytes:
        pieces.extend(large or {})
        return real(values, large)

    monkeypatch.setattr(lite, "row_digest", spy)

    src = tmp_path / "b.db"
    conn = sqlite3.connect(src)
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB, note TEXT)")
    conn.executemany(
        "INSERT INTO b VALUES (?, ?, ?)",
        [(1, os.urandom(3 << 20), "a"), (2, b"small", None), (3, bytes(range(256)) * 8192, "c")],
    )
    conn.commit()
    conn.close()
    copy(src, pg_url, tmp_path)
    assert verify(src, pg_url, mode=mode, workers=1).ok
    assert pieces, "the large blobs were not hashed in pieces"
    with psycopg.connect(pg_url, autocommit=True) as pg:
        # one byte in the middle changed (to its complement: always a change)
        pg.execute(
            "UPDATE b SET data = set_byte(data, 2000000, 255 - get_byte(data, 2000000))"
            " WHERE id = 1"
        )
    report = verify(src, pg_url, mode=mode, workers=1)
    (table,) = report.tables
    assert table.changed == 1 and [d.key for d in table.differences] == [{"id": 1}]
