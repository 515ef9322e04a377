"""Fixtures for the sample generator tests: real SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from vendzz_migrate.sample import SampleStats, generate


@pytest.fixture
def dirty(tmp_path: Path) -> SampleStats:
    return generate(tmp_path / "dirty.db", rows=500, seed=42)


@pytest.fixture
def clean(tmp_path: Path) -> SampleStats:
    return generate(tmp_path / "clean.db", rows=2_000, seed=3, clean=True)


@pytest.fixture
def open_db() -> Iterator[type[sqlite3.Connection]]:
    """Connections opened through ``open_db(path)`` are closed after the test."""
    opened: list[sqlite3.Connection] = []

    class Tracked(sqlite3.Connection):
        def __init__(self, path: Path) -> None:
            super().__init__(path, isolation_level=None)
            self.text_factory = bytes  # invalid UTF-8 is part of the data
            opened.append(self)

    yield Tracked
    for conn in opened:
        conn.close()
