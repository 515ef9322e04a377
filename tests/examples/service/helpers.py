"""Helpers for the service tests: the service through its ctl, a throwaway redis-server, a TCP
proxy that can cut a connection (a database that goes away), small HTTP and SQL helpers."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from examples.service import ctl
from tests.support import free_port, wait_until


@dataclass
class Running:
    """A service started through ``examples.service.ctl`` in its own state directory."""

    state: ctl.State
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def restart(self, **flags: str | None) -> dict[str, Any]:
        ctl.stop(self.state, timeout=30)
        return ctl.start(self.state, flags, timeout=60)

    def stop(self) -> None:
        ctl.stop(self.state, timeout=30)


@contextlib.contextmanager
def service(
    state_dir: Path, database_url: str, redis_url: str | None = None, **env: str
) -> Iterator[Running]:
    port = free_port()
    flags: dict[str, str | None] = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "PORT": str(port),
        **env,
    }
    state = ctl.State(state_dir)
    ctl.start(state, flags, timeout=60)
    try:
        yield Running(state, port)
    finally:
        ctl.stop(state, timeout=30)


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A redis-server of this test's own (INFO counters and shutdowns are the test's alone)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise AssertionError("redis-server is not installed")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _redis_up(url), "redis-server")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Proxy:
    """A loopback TCP forwarder; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.conns.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def pg_port(url: str) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port or 5432


def via_port(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    netloc_new = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return urlunsplit((parts.scheme, netloc_new, parts.path, parts.query, parts.fragment))


def count_responses(path: Path) -> int:
    """Rows in the SQLite file's quiz_responses."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM quiz_responses").fetchone()[0])
    finally:
        conn.close()
