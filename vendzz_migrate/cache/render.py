"""PostgreSQL renders a cache's RESP commands over several connections sharing one snapshot.

Rendering is where warm-cache spends its CPU on real rows (jsonb and timestamps turned into
text: about 5 us a row of ``quiz_responses``, more than Redis needs to store it), so a cache is
split by key hash into ``streams`` parts, each rendered by its own backend, all reading the
same instant (``pg_export_snapshot``). Text comes back as bytes (nothing decoded in Python).
A split cache with ``max_keys`` orders by its ``order_by`` and then by the key, so every
backend cuts the same rows (``order_by`` must be deterministic: no ``random()``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vendzz_migrate.cache import query
from vendzz_migrate.cache.prefetch import prefetched_all
from vendzz_migrate.cache.spec import CacheDef, CacheSpec
from vendzz_migrate.cache.writer import Row
from vendzz_migrate.errors import ConnectionFailed
from vendzz_migrate.settings import Settings

if TYPE_CHECKING:
    from vendzz_migrate.cache.query import PgConn

FIRST_FETCH = 1000  # rows of a stream's first fetch


class Streams:
    """The ``n`` raw read-only connections that render the caches of one run: opened for the
    first cache, then kept (a new shared snapshot per cache), closed by :meth:`close` or after
    a cache that failed."""

    def __init__(self, settings: Settings, n: int) -> None:
        self.settings = settings
        self.n = n
        self.conns: list[PgConn] = []

    def begin(self, cache: CacheDef) -> list[PgConn]:
        """The connections, each in a new REPEATABLE READ transaction on one snapshot. Kept
        sessions that were lost since the last cache (server restart, idle timeout) are
        replaced once. On failure every connection is closed."""
        reused = bool(self.conns)
        try:
            try:
                return self._begin(cache, reused)
            except ConnectionFailed:
                if not reused:
                    raise
                self.close()
            return self._begin(cache, False)
        except BaseException:
            self.close()
            raise

    def _begin(self, cache: CacheDef, reused: bool) -> list[PgConn]:
        from psycopg import IsolationLevel

        while len(self.conns) < self.n:
            conn = query.connect(self.settings, raw=True)
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            self.conns.append(conn)
        for conn in self.conns:
            query.guard(cache, conn, conn.rollback)  # idle: a snapshot is set first
        if self.n > 1:
            _share_snapshot(cache, self.conns)
        elif reused:  # its first statement: fails now if the session was lost
            only = self.conns[0]
            query.guard(cache, only, lambda: only.execute(b"SELECT 1"))
        return self.conns

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()
        self.conns = []


def _share_snapshot(cache: CacheDef, conns: list[PgConn]) -> None:
    first = conns[0]
    row = query.guard(cache, first, lambda: first.execute(b"SELECT pg_export_snapshot()"))
    snapshot = row.fetchone()[0].decode()  # type: ignore[index]
    statement = f"SET TRANSACTION SNAPSHOT '{snapshot}'".encode()
    for conn in conns[1:]:
        query.guard(cache, conn, lambda c=conn: c.execute(statement))  # type: ignore[misc]


@contextmanager
def batches(
    streams: Streams,
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[query.Column],
    script_sha: str,
) -> Iterator[Iterator[list[Row]]]:
    """Batches of ``(key, RESP command)`` from every stream, as they come (memory stays flat:
    server-side cursors, a few batches read ahead)."""
    n = streams.n
    conns = streams.begin(cache)
    parts = [
        _stream(conn, spec, cache, columns, script_sha, (i, n) if n > 1 else None)
        for i, conn in enumerate(conns)
    ]
    try:
        with prefetched_all(parts, depth=2 * n) as items:
            yield items
    except BaseException:
        streams.close()  # a stream may have stopped mid-query: not reused
        raise


def _stream(
    conn: PgConn,
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[query.Column],
    script_sha: str,
    part: tuple[int, int] | None,
) -> Generator[list[Row], None, None]:
    import psycopg

    text = query.frame_query(spec, cache, columns, script_sha, part).as_string(None)
    sizes = ramp(spec.defaults.batch_size)
    cur = conn.cursor(name=f"vendzz_warm_{part[0] if part else 0}")
    try:
        query.guard(cache, conn, lambda: cur.execute(text.encode()))
        while rows := query.guard(cache, conn, lambda: cur.fetchmany(next(sizes))):
            yield rows
    finally:
        with contextlib.suppress(psycopg.Error):
            cur.close()
            conn.rollback()


def ramp(batch_size: int, first: int = FIRST_FETCH) -> Iterator[int]:
    """Rows per fetch: ``first``, doubling up to ``batch_size``. Redis gets its first batch
    after ``first`` rows instead of a whole batch (on a 20,000-key cache split in two streams,
    5,000-row batches kept Redis idle for half the cache), then batches reach full size."""
    n = min(first, batch_size)
    while True:
        yield n
        n = min(2 * n, batch_size)
