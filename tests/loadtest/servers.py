"""Start and stop the slow test app (tests/loadtest/slow_app.py) as a process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port

APP = Path(__file__).with_name("slow_app.py")


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class App:
    """The app on a fixed port; ``restart`` brings it back on the same port."""

    def __init__(self, port: int, env: dict[str, str] | None = None) -> None:
        self.port, self.env = port, env or {}
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import os

        self.proc = subprocess.Popen(
            [sys.executable, str(APP), str(self.port)], env={**os.environ, **self.env}
        )
        for _ in range(300):  # bounded readiness poll
            if _up(self.url):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("the test app did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def control(self, **body: object) -> None:
        request = urllib.request.Request(
            self.url + "/control", data=json.dumps(body).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=5).close()


@contextmanager
def running_app(env: dict[str, str] | None = None) -> Iterator[App]:
    app = App(free_port(), env)
    app.start()
    try:
        yield app
    finally:
        app.stop()
