"""Collations a file declares that SQLite lacks are registered for reading."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vendzz_migrate.source import open_readonly
from vendzz_migrate.source.collations import case_insensitive, declared
from vendzz_migrate.source.introspect import introspect


def _file(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.create_collation("unicase", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
    conn.create_collation("my order", lambda a, b: (a > b) - (a < b))
    conn.executescript("""
        CREATE TABLE n (id INTEGER PRIMARY KEY, name TEXT COLLATE unicase,
                        code TEXT COLLATE "my order", tag TEXT COLLATE NOCASE);
        CREATE INDEX n_name ON n (name);
        INSERT INTO n VALUES (1, 'b', 'y', 'X'), (2, 'A', 'x', 'y');
    """)
    conn.commit()
    conn.close()
    return path


def test_unknown_collations_are_registered_for_reading(tmp_path: Path) -> None:
    path = _file(tmp_path / "c.db")
    plain = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such collation"):
            plain.execute("SELECT name FROM n ORDER BY name")
    finally:
        plain.close()
    conn = open_readonly(path)
    try:
        assert declared(conn) == {"unicase", "my order", "NOCASE"}
        assert [r[0] for r in conn.execute("SELECT name FROM n ORDER BY name")] == ["A", "b"]
        assert conn.execute("SELECT min(code) FROM n").fetchone() == ("x",)
        cols = {c.name: c.collation for c in introspect(conn).table("n").columns}
        assert cols == {"id": None, "name": "unicase", "code": "my order", "tag": "NOCASE"}
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("NOCASE", True),
        ("unicase", True),
        ("utf8_ci", True),
        ("RTRIM", False),
        ("BINARY", False),
        ("my order", False),
        (None, False),
    ],
)
def test_case_insensitive_names(name: str | None, folded: bool) -> None:
    assert case_insensitive(name) is folded
