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

from tests.support import as_service_user, free_port, give_to_service_user, service_dir


@dataclass
class Cluster:
    bindir: Path
    data: Path
    port: int
    settings: tuple[str, ...] = ()  # extra server settings, e.g. "max_connections=20"
    password: str | None = None  # None: trust; else scram-sha-256 with this postgres password

    @property
    def url(self) -> str:
        user = f"postgres:{self.password}" if self.password else "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

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


def start_cluster(*settings: str, password: str | None = None) -> Cluster:
    """initdb + start on a free port; ``settings`` are extra ``name=value`` server settings;
    with ``password``, a server that really checks passwords (scram-sha-256)."""
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    assert initdb, "PostgreSQL server binaries are needed (Debian postgresql)"
    data = service_dir("vzt-pgc-")  # pytest's tmp is private to root
    auth = ["--auth=trust"]
    if password is not None:
        pwfile = data / "pw"
        pwfile.write_text(password + "\n")
        give_to_service_user(pwfile)
        auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
    subprocess.run(
        as_service_user([initdb, "-D", str(data / "pg"), "-U", "postgres", *auth, "-E", "UTF8"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = Cluster(Path(initdb).parent, data, free_port(), settings, password)
    cluster.start()
    return cluster


def remove(cluster: Cluster) -> None:
    cluster.stop()
    shutil.rmtree(cluster.data, ignore_errors=True)


@contextmanager
def own_cluster(*settings: str, password: str | None = None) -> Iterator[str]:
    """A started throwaway cluster for the block; yields its URL, removes it after."""
    cluster = start_cluster(*settings, password=password)
    try:
        yield cluster.url
    finally:
        remove(cluster)
