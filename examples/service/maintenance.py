"""Maintenance mode (the cutover's write freeze) and the count of writes in flight.

Maintenance is on while ANY of these holds: the admin flag (``POST /admin/maintenance``), the
file named by ``VENDZZ_MAINTENANCE_FILE`` exists, or the Redis key ``vendzz:maintenance``
(``VENDZZ_MAINTENANCE_KEY``) exists or cannot be read (Redis down: fail closed, a freeze set
there must hold).
With a maintenance file configured the admin call creates / removes that file, so the flag
survives a restart (``ctl restart`` is the cutover's switch).

A write first counts itself in flight, THEN checks the flags: once a caller has turned
maintenance on and read ``writes_in_flight == 0``, no write can still commit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from vendzz_migrate.fileio import atomic_write_text


class Frozen(Exception):
    """A write arrived while maintenance mode is on."""


class Maintenance:
    def __init__(self, file: Path | None, redis_flag: Callable[[], bool | None]) -> None:
        self.file = file
        self._redis_flag = redis_flag
        self._flag = False
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def writes_in_flight(self) -> int:
        return self._in_flight

    def on(self) -> bool:
        if self._flag:
            return True
        if self.file is not None and self.file.exists():
            return True
        return self._redis_flag() is not False  # None: the key cannot be read

    def set(self, enabled: bool) -> None:
        self._flag = enabled
        if self.file is None:
            return
        if enabled:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.file, "maintenance: writes answer 503\n")
        else:
            with contextlib.suppress(FileNotFoundError):
                self.file.unlink()

    def state(self) -> dict[str, object]:
        return {"maintenance": self.on(), "writes_in_flight": self.writes_in_flight}

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """Hold a write slot; raise :class:`Frozen` (after releasing it) when frozen."""
        with self._lock:
            self._in_flight += 1
        try:
            if self.on():
                raise Frozen
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
