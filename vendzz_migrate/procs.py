"""Worker processes: how they start and how they end (copy step 4, verify).

Reading SQLite and building text is CPU work in SQLite and Python. Threads of one process
contend for the interpreter lock and for SQLite's global allocator mutex: measured on the bench
file, two threads reading two tables took longer than one thread reading both, two processes
half the time. So the heavy work runs in processes, each with its own connections.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
import threading
from multiprocessing.context import BaseContext

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
