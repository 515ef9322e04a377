"""Read ahead: PostgreSQL renders the next batches while the current one goes to Redis."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _End:
    pass


class _Producers(Generic[T]):
    """Runs each source in its own thread, all feeding one queue of at most ``depth`` items."""

    def __init__(self, sources: Sequence[Generator[T, None, None]], depth: int) -> None:
        self.items: queue.Queue[T | _Failed | _End] = queue.Queue(depth)
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(s,), name=f"vendzz-prefetch-{i}", daemon=True)
            for i, s in enumerate(sources)
        ]

    def _put(self, item: T | _Failed | _End) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, source: Generator[T, None, None]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as exc:
            self._put(_Failed(exc))
        finally:
            source.close()

    def consume(self) -> Iterator[T]:
        running = len(self.threads)
        while running:
            item = self.items.get()
            if isinstance(item, _End):
                running -= 1
                continue
            if isinstance(item, _Failed):
                raise item.exc
            yield item


@contextmanager
def prefetched_all(
    sources: Sequence[Generator[T, None, None]], depth: int = 2
) -> Iterator[Iterator[T]]:
    """Iterate the items of every source as they come, each source read in its own thread;
    every thread is always joined (and its source closed) on exit."""
    producers = _Producers(sources, max(depth, len(sources)))
    for thread in producers.threads:
        thread.start()
    try:
        yield producers.consume()
    finally:
        producers.stop.set()
        for thread in producers.threads:
            thread.join()
