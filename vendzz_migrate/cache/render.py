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
from vendzz_migrate.settings import Settings

if TYPE_CHECKING:
    from vendzz_migrate.cache.query import PgConn

FIRST_FETCH = 1000  # rows of a stream's first fetch


@contextmanager
def batches(
    settings: Settings,
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[query.Column],
    script_sha: str,
) -> Iterator[Iterator[list[Row]]]:
    """Batches of ``(key, RESP command)`` from every stream, as they come (memory stays flat:
    server-side cursors, a few batches read ahead)."""
    n = spec.defaults.streams
    conns: list[PgConn] = []
    try:
        conns = _open(settings, cache, n)
        parts = [
            _stream(conn, spec, cache, columns, script_sha, (i, n) if n > 1 else None)
            for i, conn in enumerate(conns)
        ]
        with prefetched_all(parts, depth=2 * n) as items:
            yield items
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def _open(settings: Settings, cache: CacheDef, n: int) -> list[PgConn]:
    """``n`` raw connections in REPEATABLE READ READ ONLY transactions on one snapshot."""
    from psycopg import IsolationLevel

    conns: list[PgConn] = []
    try:
        for _ in range(n):
            conn = query.connect(settings, raw=True)
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conns.append(conn)
        if n > 1:
            first = conns[0]
            row = query.guard(cache, first, lambda: first.execute(b"SELECT pg_export_snapshot()"))
            snapshot = row.fetchone()[0].decode()  # type: ignore[index]
            statement = f"SET TRANSACTION SNAPSHOT '{snapshot}'".encode()
            for conn in conns[1:]:
                query.guard(cache, conn, lambda c=conn: c.execute(statement))  # type: ignore[misc]
    except BaseException:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        raise
    return conns


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
