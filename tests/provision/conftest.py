"""Provision tests: render from a team profile whose ports and paths point at a temp dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import free_port, give_to_service_user
from vendzz_migrate.preflight.profile import packaged_text


@pytest.fixture
def work() -> Iterator[Path]:
    """A temp dir the service user can use (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="vzt-prov-"))
    give_to_service_user(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def team_profile(work: Path) -> Path:
    """The dev profile with free ports and every path inside ``work``."""
    data = yaml.safe_load(packaged_text("dev"))
    data["name"] = "test-local"
    data["app"]["servers"] = [
        {"host": "127.0.0.1", "port": 5000, "weight": 3},
        {"host": "127.0.0.2", "port": 5000, "weight": 3},
        {"host": "127.0.0.3", "port": 5000, "weight": 2},
    ]
    data["pgbouncer"].update(
        listen_port=free_port(),
        listen_addr="127.0.0.1",
        auth_file=str(work / "out" / "userlist.txt"),
    )
    data["redis"].update(
        port=free_port(),
        bind="127.0.0.1",
        dir=str(work / "redis"),
        maxmemory_gb={"recommended": 0.25},
    )
    (work / "redis").mkdir()
    path = work / "team.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
