"""Tables compared in worker processes that all read the same instant of the SQLite file.

Canonicalising source rows is Python work (JSON above all), so threads would queue on one
interpreter lock; worker processes run it on every core. Each worker opens its own read-only
SQLite reader (inside one read transaction) and its own read-only PostgreSQL connection when
it starts, then reports. The parent reads ``PRAGMA data_version`` on a watcher connection
before its own reader starts and again once every worker holds its snapshot: unchanged means
no connection committed in between, so every reader sees the same commit (else the caller
starts over). How workers start and end: :mod:`vendzz_migrate.procs`.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from vendzz_migrate import errors, procs
from vendzz_migrate.pg import TIMEOUT_S
from vendzz_migrate.source import pieces
from vendzz_migrate.verify import compare, large, lite, pgside
from vendzz_migrate.verify.lite import Bound, Digest
from vendzz_migrate.verify.model import Mode, TableResult
from vendzz_migrate.verify.spec import Spec

T = TypeVar("T")
START_TIMEOUT_S = 120.0
_CTX: dict[str, compare.Ctx] = {}  # in a worker: its reader and connection


def _start(
    path: str,
    url: str,
    schema: str,
    show_values: bool,
    segment_rows: int,
    ready: Any,
    timeout_s: int = TIMEOUT_S,
    limits: tuple[int, int, int] | None = None,
) -> None:
    """Pool initializer: open this worker's reader (its snapshot starts now) and connection;
    ``limits``: the parent's large-value limit and piece sizes (``source.pieces``), which a
    spawned worker would not otherwise share."""
    if limits is not None:
        pieces.LARGE_BYTES, pieces.CHUNK, pieces.KEYED_CHUNK = limits
    try:
        reader = lite.open_source(Path(path))
        target = pgside.open_target(url, timeout_s)
    except errors.VendzzError as exc:
        ready.put((os.getpid(), type(exc).__name__, str(exc)))
        return
    _CTX["ctx"] = compare.Ctx(reader, target, schema, show_values, segment_rows)
    large.use(url, timeout_s)  # large JSON values' canonical text (see large._json)
    ready.put((os.getpid(), None, None))


def _compare(spec: Spec, mode: Mode) -> TableResult:
    return compare.compare_table(_CTX["ctx"], spec, mode)


def _sums(spec: Spec, starts: list[Bound], rowids: tuple[int, int]) -> compare.SourceSums:
    return lite.segment_sums(_CTX["ctx"].lite, spec, starts, rowids)


def _digests(spec: Spec, rowids: tuple[int, int]) -> list[Digest]:
    return list(lite.digests(_CTX["ctx"].lite, spec, rowids))


class Workers:
    """``count`` worker processes, each holding a reader; see the module docstring. A worker
    that dies (killed, out of memory) fails the futures instead of leaving them pending."""

    def __init__(
        self,
        path: Path,
        url: str,
        *,
        count: int,
        schema: str,
        show_values: bool,
        segment_rows: int,
        timeout_s: int = TIMEOUT_S,
    ) -> None:
        self.count = count
        self._ready = procs.context().Queue()
        self._pool = procs.WorkerPool(
            count,
            _start,
            (
                str(path),
                url,
                schema,
                show_values,
                segment_rows,
                self._ready,
                timeout_s,
                (pieces.LARGE_BYTES, pieces.CHUNK, pieces.KEYED_CHUNK),
            ),
        )

    def wait_ready(self) -> None:
        """Block until every worker holds its reader; raise the first worker's error."""
        for _ in range(self.count):
            try:
                _, kind, message = self._ready.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise errors.CapacityError(
                    f"verify: worker processes did not start in {START_TIMEOUT_S:.0f}s; "
                    "retry with --workers 1"
                ) from None
            if kind is not None:
                error = getattr(errors, kind, errors.VendzzError)
                raise error(message)

    def submit(self, spec: Spec, mode: Mode) -> Future[TableResult]:
        return self._pool.submit(_compare, spec, mode)

    def sums(
        self, spec: Spec, starts: list[Bound], rowids: tuple[int, int]
    ) -> Future[compare.SourceSums]:
        """The source sums of one rowid range of a table (see lite.segment_sums)."""
        return self._pool.submit(_sums, spec, starts, rowids)

    def digests(self, spec: Spec, rowids: tuple[int, int]) -> Future[list[Digest]]:
        """The row digests of one rowid range of a table (see lite.digests)."""
        return self._pool.submit(_digests, spec, rowids)

    def close(self, *, wait: bool) -> None:
        self._pool.close(wait=wait)  # not waiting: work in progress is not wanted
        self._ready.close()


def result(future: Future[T]) -> T:
    """A worker's result; a worker that died becomes a one-line error, not a traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise errors.CapacityError(
            "verify: a worker process died (killed, or out of memory?); rerun with --workers 1"
        ) from None
