"""Tables compared in worker processes that all read the same instant of the SQLite file.

Canonicalising source rows is Python work (JSON above all), so threads would queue on one
interpreter lock; worker processes run it on every core. Each worker opens its own read-only
SQLite reader (inside one read transaction) and its own read-only PostgreSQL connection when
it starts, then reports. The parent reads ``PRAGMA data_version`` on a watcher connection
before its own reader starts and again once every worker holds its snapshot: unchanged means
no connection committed in between, so every reader sees the same commit (else the caller
starts over). Workers are spawned, not forked: nothing of the parent (threads, sockets) leaks
into them.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

from vendzz_migrate import errors
from vendzz_migrate.verify import compare, lite, pgside
from vendzz_migrate.verify.lite import Bound, Digest
from vendzz_migrate.verify.model import Mode, TableResult
from vendzz_migrate.verify.spec import Spec

START_TIMEOUT_S = 120.0
_CTX: dict[str, compare.Ctx] = {}  # in a worker: its reader and connection


def _start(path: str, url: str, schema: str, show_values: bool, segment_rows: int,
           ready: Any) -> None:
    """Pool initializer: open this worker's reader (its snapshot starts now) and connection."""
    try:
        reader = lite.open_source(Path(path))
        target = pgside.open_target(url)
    except errors.VendzzError as exc:
        ready.put((os.getpid(), type(exc).__name__, str(exc)))
        return
    _CTX["ctx"] = compare.Ctx(reader, target, schema, show_values, segment_rows)
    ready.put((os.getpid(), None, None))


def _compare(spec: Spec, mode: Mode) -> TableResult:
    return compare.compare_table(_CTX["ctx"], spec, mode)


def _sums(spec: Spec, starts: list[Bound], rowids: tuple[int, int]) -> compare.SourceSums:
    return lite.segment_sums(_CTX["ctx"].lite, spec, starts, rowids)


def _digests(spec: Spec, rowids: tuple[int, int]) -> list[Digest]:
    return list(lite.digests(_CTX["ctx"].lite, spec, rowids))


class Workers:
    """``count`` worker processes, each holding a reader; see the module docstring."""

    def __init__(self, path: Path, url: str, *, count: int, schema: str, show_values: bool,
                 segment_rows: int) -> None:
        mp = multiprocessing.get_context("spawn")
        self.count = count
        self._ready = mp.Queue()
        self._pool: Pool = mp.Pool(count, initializer=_start, initargs=(
            str(path), url, schema, show_values, segment_rows, self._ready))

    def wait_ready(self) -> None:
        """Block until every worker holds its reader; raise the first worker's error."""
        for _ in range(self.count):
            try:
                _, kind, message = self._ready.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise errors.VendzzError(
                    f"verify: worker processes did not start in {START_TIMEOUT_S:.0f}s; "
                    "retry with --workers 1") from None
            if kind is not None:
                error = getattr(errors, kind, errors.VendzzError)
                raise error(message)

    def submit(self, spec: Spec, mode: Mode) -> AsyncResult[TableResult]:
        return self._pool.apply_async(_compare, (spec, mode))

    def sums(self, spec: Spec, starts: list[Bound], rowids: tuple[int, int]
             ) -> AsyncResult[compare.SourceSums]:
        """The source sums of one rowid range of a table (see lite.segment_sums)."""
        return self._pool.apply_async(_sums, (spec, starts, rowids))

    def digests(self, spec: Spec, rowids: tuple[int, int]) -> AsyncResult[list[Digest]]:
        """The row digests of one rowid range of a table (see lite.digests)."""
        return self._pool.apply_async(_digests, (spec, rowids))

    def close(self, *, wait: bool) -> None:
        if wait:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
        self._ready.close()
