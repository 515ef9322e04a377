"""Schema objects beyond plain columns: generated columns, CHECKs, AUTOINCREMENT, views."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.copy.helpers import copy, rows


def test_generated_columns_checks_and_sequences(pg_url: str, tmp_path: Path) -> None:
    src = tmp_path / "g.db"
    conn = sqlite3.connect(src)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, price INTEGER NOT NULL"
        " CHECK (price >= 0), qty INTEGER NOT NULL DEFAULT 1,"
        " total INTEGER GENERATED ALWAYS AS (price * qty) STORED);"
        "INSERT INTO items (price, qty) VALUES (10, 2), (5, 3);"
        "DELETE FROM items WHERE id = 2;"  # AUTOINCREMENT: the next id is 3, not 2
        "CREATE VIEW pricey AS SELECT id, total FROM items WHERE total > 10;"
    )
    conn.close()
    report = copy(src, pg_url, tmp_path)
    assert report.total.copied_rows == 1 and report.total.rejected_rows == 0
    assert rows(pg_url, "SELECT id, price, qty, total FROM items") == [(1, 10, 2, 20)]
    assert rows(pg_url, "SELECT id, total FROM pricey") == [(1, 20)]
    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute("INSERT INTO items (price, qty) VALUES (7, 1)")  # identity past SQLite's
        assert pg.execute("SELECT max(id), max(total) FROM items").fetchone() == (3, 20)
        with pytest.raises(psycopg.errors.CheckViolation):  # the CHECK was migrated
            pg.execute("INSERT INTO items (price) VALUES (-1)")
