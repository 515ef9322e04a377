"""Reading units: every row exactly once, whatever the table looks like."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.copy.helpers import copy, rows


@pytest.mark.parametrize(
    "ddl",
    [
        'CREATE TABLE t ("rowid" TEXT, v INT)',  # a column shadowing rowid, values repeat
        "CREATE TABLE t (a TEXT, b INT, v INT, PRIMARY KEY (a, b)) WITHOUT ROWID",
        "CREATE TABLE t (v INT)",  # no key at all, exact duplicates
    ],
)
def test_every_row_once(ddl: str, pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "s.db"
    conn = sqlite3.connect(src)
    conn.execute(ddl)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(t)")]
    data = [
        tuple((f"k{i % 7}" if c in ("rowid", "a") else i // 7 if c == "b" else i % 3) for c in cols)
        for i in range(200)
    ]
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(cols))})", data)
    conn.commit()
    conn.close()
    report = copy(src, pg_url, tmp_path, batch_rows=9, workers=2)
    assert report.total.copied_rows == 200 and report.total.rejected_rows == 0
    got = sorted(rows(pg_url, f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM t"))
    assert got == sorted(data)
