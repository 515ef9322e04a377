"""Read ahead: PostgreSQL renders the next batch while the current one goes to Redis."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _End:
    pass


class _Producer(Generic[T]):
    """Runs ``source`` in a thread, at most ``depth`` items ahead of the consumer."""

    def __init__(self, source: Generator[T, None, None], depth: int) -> None:
        self.source = source
        self.items: queue.Queue[T | _Failed | _End] = queue.Queue(depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="vendzz-prefetch", daemon=True)

    def _put(self, item: T | _Failed | _End) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self.source:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as exc:
            self._put(_Failed(exc))
        finally:
            self.source.close()

    def consume(self) -> Iterator[T]:
        while True:
            item = self.items.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item


@contextmanager
def prefetched(source: Generator[T, None, None], depth: int = 2) -> Iterator[Iterator[T]]:
    """Iterate ``source`` from a background thread; always joined (and closed) on exit."""
    producer = _Producer(source, depth)
    producer.thread.start()
    try:
        yield producer.consume()
    finally:
        producer.stop.set()
        producer.thread.join()
