"""Fixtures shared by the cutover tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vendzz_migrate.sample import generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean sample file the service runs on (generated once per test module)."""
    path = tmp_path_factory.mktemp("service-sample") / "vendzz.db"
    generate(path, rows=1500, seed=11, clean=True)
    return path
