"""Worker processes: how they start and how they end (copy step 4, verify).

Reading SQLite and building text is CPU work in SQLite and Python. Threads of one process
contend for the interpreter lock and for SQLite's global allocator mutex: measured on the bench
file, two threads reading two tables took longer than one thread reading both, two processes
half the time. So the heavy work runs in processes, each with its own connections.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1


def context() -> BaseContext:
    """fork when this process runs no other thread (a forked worker starts at once, every module
    already imported; a spawned one imports the whole CLI again, half a second or more of CPU),
    spawn otherwise (a fork copies locks that other threads may hold). A forked worker never
    touches what it inherits (the parent's connections): it opens its own."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def worker_setup() -> None:
    """In a worker, first thing: leave Ctrl-C to the parent (which stops the workers) and, on
    Linux, die with the parent, so that a parent killed with -9 leaves no worker behind still
    writing (its open transaction is then rolled back by the server)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's "SIGTERM is Ctrl-C"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the queue's EOF ends it
            pass


_STOP_GRACE_S = 5.0


def _init(pids: Any, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """Every worker's first steps: its signals (before anything else: a Ctrl-C sent to the
    process group must not interrupt it), its pid to the pool (which stops it by pid), then the
    pool's own set-up."""
    worker_setup()
    pids.put(os.getpid())
    initializer(*initargs)


def _quiet_cancelled_futures(args: threading.ExceptHookArgs) -> None:
    """CPython 3.11's ProcessPoolExecutor, when a pool breaks (our own stop of the workers on
    Ctrl-C or SIGTERM), marks every pending future failed, also the ones already cancelled: its
    manager thread then dies with InvalidStateError and prints a traceback (3.12 skips futures
    that are done). Nothing is lost: the results are not wanted; the traceback is not shown."""
    if (
        isinstance(args.exc_value, InvalidStateError)
        and type(args.thread).__name__ == "_ExecutorManagerThread"
    ):
        return
    _THREAD_HOOK[0](args)


_THREAD_HOOK = [threading.excepthook]


class WorkerPool:
    """``count`` worker processes, all started at once (before this process starts any thread,
    e.g. a progress display, so that they can be forked: see :func:`context`), each set up by
    ``initializer(*initargs)``. The one pool of copy step 4 and of verify."""

    def __init__(
        self, count: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = ()
    ) -> None:
        mp = context()
        if threading.excepthook is not _quiet_cancelled_futures:
            _THREAD_HOOK[0] = threading.excepthook
            threading.excepthook = _quiet_cancelled_futures
        self.count = count
        self._pids = mp.Queue()
        self._known: set[int] = set()
        self.executor = ProcessPoolExecutor(
            count, mp_context=mp, initializer=_init, initargs=(self._pids, initializer, initargs)
        )
        for _ in range(count):  # a spawning executor starts one more process per submit
            self.executor.submit(int)

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self.executor.submit(fn, *args)

    def close(self, *, wait: bool) -> None:
        """Stop the workers; with ``wait=False`` (Ctrl-C, an error elsewhere) at once: work in
        progress is not wanted (a copy unit is rolled back by the server)."""
        if not wait:
            self._terminate()
        self.executor.shutdown(wait=True, cancel_futures=not wait)
        self._pids.close()

    def _terminate(self) -> None:
        deadline = time.monotonic() + _STOP_GRACE_S
        while len(self._known) < self.count and time.monotonic() < deadline:
            try:  # every worker reports its pid first thing after it starts
                self._known.add(self._pids.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        for pid in self._known:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
