"""Fixtures: a clean sample Vendzz file with one known password, and its PostgreSQL copy."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.copy.helpers import copy, verified

PASSWORD = "correct horse"


@dataclass(frozen=True)
class Sample:
    path: Path
    email: str  # a user whose password is PASSWORD

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


@pytest.fixture(scope="session")
def sample_master(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    from vendzz_migrate.sample import generate

    path = tmp_path_factory.mktemp("service-sample") / "vendzz.db"
    generate(path, rows=600, seed=7, clean=True)
    conn = sqlite3.connect(path)
    try:
        (email,) = conn.execute("SELECT email FROM users ORDER BY id LIMIT 1").fetchone()
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
        conn.execute("UPDATE users SET password = ? WHERE email = ?", (hashed, email))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return Sample(path, email)


@pytest.fixture
def sample(sample_master: Sample, tmp_path: Path) -> Sample:
    """This test's own copy of the sample file."""
    path = tmp_path / "vendzz.db"
    shutil.copyfile(sample_master.path, path)
    return Sample(path, sample_master.email)


@pytest.fixture
def pg_copy(sample: Sample, pg_url: str, tmp_path: Path) -> str:
    """``sqlite-to-pg`` of this test's sample into its own database; its URL."""
    report = copy(sample.path, pg_url, tmp_path / "work", workers=1)
    assert not any(t.rejected_rows for t in report.tables), "the clean sample must copy whole"
    verified(sample.path, pg_url)  # the service is then tested on a proven copy
    return pg_url
