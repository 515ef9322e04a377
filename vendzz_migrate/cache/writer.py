"""Write batches of ready RESP commands to a :class:`Target`, grouped by node, pipelined.

Every reply is one line (``+OK`` or an error). Redirects and failovers (MOVED, ASK, TRYAGAIN,
CLUSTERDOWN, READONLY, NOSCRIPT, LOADING, dropped connections) are resent under the spec's
client behaviour through the project's retry policy; an OOM reply stops the run cleanly.
Resending is safe: every command replaces its key whole.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import redis.exceptions as rexc

from vendzz_migrate.cache.redis_io import (
    REPLACE_HASH,
    REPLACE_HASH_LEGACY,
    Batch,
    Lane,
    Retryable,
    Target,
    map_error,
    redis_errors,
    retrying,
)
from vendzz_migrate.cache.spec import ClientBehaviour
from vendzz_migrate.errors import PermissionDenied, TargetError

Row = tuple[bytes, bytes]  # (key, RESP command), UTF-8 as PostgreSQL sent them
OK = b"+OK\r\n"
_RETRY_PREFIXES = (
    b"-MOVED", b"-ASK", b"-TRYAGAIN", b"-CLUSTERDOWN", b"-READONLY", b"-LOADING", b"-NOSCRIPT",
)  # fmt: skip
_BROKEN = (OSError, rexc.ConnectionError, rexc.TimeoutError)


class OutOfMemory(Exception):
    """Redis answered OOM (maxmemory reached under noeviction)."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass
class WriteResult:
    keys: int = 0
    bytes: int = 0
    errors: int = 0
    first_error: str | None = None


def _group(target: Target, rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    owner = target.owner
    for row in rows:
        groups[owner(row[0])].append(row)
    return groups


def _batch(rows: list[Row]) -> Batch:
    return Batch(rows, b"".join([f for _, f in rows]))


class Writer:
    """Send batches to the owning nodes, one batch in flight per node while the next is read."""

    def __init__(
        self, target: Target, client: ClientBehaviour, on_progress: Callable[[int], None]
    ) -> None:
        self.target = target
        self.client = client
        self.on_progress = on_progress
        self.lanes: dict[str, Lane] = {}
        self.result = WriteResult()
        self._redo: list[Row] = []
        self._redo_reason = ""
        self._fatal: Exception | None = None  # OOM or NOPERM: stop after this batch
        self._script: str | None = None  # the replace-hash script this Redis runs

    def load_script(self) -> str:
        """Load the replace-hash script on every node; return its SHA (one for all nodes).

        The ``#!lua`` version first (Redis >= 7: refused up front under OOM); if a node cannot
        compile it (Redis 6), the legacy version everywhere. Reloaded after failovers.
        """
        loaded = False
        if self._script is None:
            loaded = self._loads(REPLACE_HASH)
            self._script = REPLACE_HASH if loaded else REPLACE_HASH_LEGACY
        if not loaded and not self._loads(self._script):
            raise TargetError(f"Redis {self.target.url} cannot compile the replace-hash script")
        return hashlib.sha1(self._script.encode()).hexdigest()

    def _loads(self, script: str) -> bool:
        """SCRIPT LOAD on every node; False when one answers a compile error."""
        for address, node in self.target.nodes.items():
            try:
                with redis_errors(f"{self.target.url} ({address})"):
                    node.client.script_load(script)
            except TargetError as exc:
                if "Error compiling script" in str(exc):
                    return False
                raise
        return True

    def write(self, batches: Iterable[list[Row]]) -> WriteResult:
        """Write every batch; raise :class:`OutOfMemory` or a VendzzError if it cannot."""
        try:
            for rows in batches:
                self._send(rows)
            self._settle_and_retry([])
        finally:
            self._reset_lanes()
        return self.result

    def _send(self, rows: list[Row]) -> None:
        if self.target.cluster is None:
            groups = {self.target.owner(b""): rows}
        else:
            groups = _group(self.target, rows)
        lost: list[Row] = []
        for address, group in groups.items():
            batch = _batch(group)
            self.result.bytes += len(batch.payload)
            lost += self._on_lane(address, partial(Lane.send, batch=batch))
        for address in list(self.lanes):
            lost += self._on_lane(address, lambda lane: lane.drain(1, self._on_reply))
        if lost or self._redo or self._fatal is not None:
            self._settle_and_retry(lost)  # reads every reply in flight first: exact counts

    def _on_lane(self, address: str, op: Callable[[Lane], None]) -> list[Row]:
        """Run ``op`` on the lane to ``address``; if the connection breaks, return its rows."""
        lane = self.lanes.get(address)
        if lane is None:
            lane = self.lanes[address] = Lane(self.target.nodes[address])
        try:
            op(lane)
        except _BROKEN as exc:
            self._redo_reason = str(exc) or type(exc).__name__
            pending = self.lanes.pop(address).reset()
            return [row for b in pending for row in b.rows]
        return []

    def _settle_and_retry(self, lost: list[Row]) -> None:
        """Read every reply still in flight, then resend what failed, under the retry policy."""
        for address in list(self.lanes):
            lost += self._on_lane(address, lambda lane: lane.drain(0, self._on_reply))
        self._reset_lanes()
        if self._fatal is not None:
            raise self._fatal
        pending = lost + self._redo
        self._redo = []
        if not pending:
            return
        state = [pending]
        try:
            for attempt in retrying(self.client):
                with attempt:
                    self._resend(state)
        except OutOfMemory:
            raise
        except (rexc.RedisError, rexc.RedisClusterException, OSError, Retryable) as exc:
            raise map_error(exc, self.target.url) from None

    def _resend(self, state: list[list[Row]]) -> None:
        """One attempt: refresh the topology, send each node its rows, keep what failed."""
        self.target.refresh()
        self.load_script()
        remaining: list[Row] = []
        error: BaseException | None = None
        for address, group in _group(self.target, state[0]).items():
            if error is not None:
                remaining += group
                continue
            lane = Lane(self.target.nodes[address])
            try:
                lane.send(_batch(group))
                lane.drain(0, self._on_reply)
                lane.close()
            except _BROKEN as exc:
                lane.reset()
                remaining += group
                error = exc
        state[0] = remaining + self._redo
        self._redo = []
        if self._fatal is not None:
            raise self._fatal
        if error is not None:
            raise error
        if state[0]:
            raise Retryable(self._redo_reason)

    def _reset_lanes(self) -> None:
        for lane in self.lanes.values():
            if lane.inflight:
                lane.reset()
            else:
                lane.close()
        self.lanes.clear()

    def _on_reply(self, batch: Batch, replies: bytes) -> None:
        n = len(batch.rows)
        if replies == OK * n:
            self.result.keys += n
            self.on_progress(n)
            return
        good = 0
        for i, line in enumerate(replies.splitlines()):
            if line == b"+OK":
                good += 1
            else:
                self._on_error(batch, i, line)
        self.result.keys += good
        self.on_progress(good)

    def _on_error(self, batch: Batch, i: int, line: bytes) -> None:
        text = line.decode("utf-8", "replace").lstrip("-")
        key = batch.rows[i][0].decode("utf-8", "replace")
        if line.startswith(b"-OOM") or b"OOM command not allowed" in line:
            self._fatal = self._fatal or OutOfMemory(key, text)
        elif line.startswith(b"-NOPERM"):
            where = f"Redis {self.target.url} refused to write {key!r}"
            self._fatal = self._fatal or PermissionDenied(f"{where}: {text}")
        elif line.startswith(_RETRY_PREFIXES):
            self._redo.append(batch.rows[i])
            self._redo_reason = text
        else:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or f"{key}: {text}"
