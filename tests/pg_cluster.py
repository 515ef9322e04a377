"""A throwaway PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port), for the
tests that stop, restart or reconfigure PostgreSQL (a low max_connections): never the shared
server. Run as the ``postgres`` OS user when the tests run as root (postgres refuses root)."""

from __future__ import annotations

import glob
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import as_service_user, free_port, service_dir


@dataclass
class Cluster:
    bindir: Path
    data: Path
    port: int
    settings: tuple[str, ...] = ()  # extra server settings, e.g. "max_connections=20"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str, check: bool = True) -> None:
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.data / "pg"), *args]
        subprocess.run(as_service_user(argv), check=check, capture_output=True, timeout=120)

    def _options(self) -> str:
        extra = "".join(f" -c {s}" for s in self.settings)
        return f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1{extra}"

    def start(self) -> None:
        self.ctl("-w", "-o", self._options(), "-l", str(self.data / "log"), "start")

    def restart(self) -> None:
        """As an operator's restart: every connection is ended at once (fast shutdown)."""
        self.ctl("-w", "-m", "fast", "-o", self._options(), "-l", str(self.data / "log"), "restart")

    def stop(self) -> None:
        self.ctl("-m", "immediate", "stop", check=False)


def start_cluster(*settings: str) -> Cluster:
    """initdb + start on a free port; ``settings`` are extra ``name=value`` server settings."""
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    assert initdb, "PostgreSQL server binaries are needed (Debian postgresql)"
    data = service_dir("vzt-pgc-")  # pytest's tmp is private to root
    subprocess.run(
        as_service_user(
            [initdb, "-D", str(data / "pg"), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = Cluster(Path(initdb).parent, data, free_port(), settings)
    cluster.start()
    return cluster


def remove(cluster: Cluster) -> None:
    cluster.stop()
    shutil.rmtree(cluster.data, ignore_errors=True)


@contextmanager
def own_cluster(*settings: str) -> Iterator[str]:
    """A started throwaway cluster for the block; yields its URL, removes it after."""
    cluster = start_cluster(*settings)
    try:
        yield cluster.url
    finally:
        remove(cluster)
