"""A throwaway PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port), for the
tests that stop or restart PostgreSQL: never the shared server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import _free_port


@dataclass
class Cluster:
    bindir: Path
    data: Path
    port: int
    prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data / "pg"), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self.ctl(
            "-w",
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "-l",
            str(self.data / "log"),
            "start",
        )

    def restart(self) -> None:
        """As an operator's restart: every connection is ended at once (fast shutdown)."""
        self.ctl(
            "-w",
            "-m",
            "fast",
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "-l",
            str(self.data / "log"),
            "restart",
        )

    def stop(self) -> None:
        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data / "pg"),
                "-m",
                "immediate",
                "stop",
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )


def start_cluster() -> Cluster:
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None
    )
    assert initdb, "PostgreSQL server binaries are needed (Debian postgresql)"
    data = Path(tempfile.mkdtemp(prefix="vzt-pgc-"))  # pytest's tmp is private to root
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*prefix, initdb, "-D", str(data / "pg"), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = Cluster(Path(initdb).parent, data, _free_port(), prefix)
    cluster.start()
    return cluster


def remove(cluster: Cluster) -> None:
    cluster.stop()
    shutil.rmtree(cluster.data, ignore_errors=True)
