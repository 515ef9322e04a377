"""Rejected rows holding very large values (issue #11 finding 8): such a value is never read
whole for its reject record; its bytes go, a piece at a time, to ``reject_pieces``, and the
record holds a small lossless reference (size, md5)."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from pathlib import Path

from tests.copy.helpers import rows
from tests.copy.test_large_values import peak_rss_mb
from vendzz_migrate.errors import ExitCode


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
