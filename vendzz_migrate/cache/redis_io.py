"""Redis side of warm-cache: connect (standalone, TLS, cluster), map errors, raw pipelined lanes.

A :class:`Target` knows the master nodes and which node owns a key (hash slot, computed with
``binascii.crc_hqx``: the CRC16-XMODEM that Redis Cluster uses). A :class:`Lane` is one
connection to one node that sends ready RESP bytes and counts the one-line replies, with one
batch in flight while the next is built.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tenacity import Retrying

from vendzz_migrate import retry
from vendzz_migrate.cache.spec import ClientBehaviour
from vendzz_migrate.errors import (
    ConfigError,
    ConnectionFailed,
    PermissionDenied,
    TargetError,
    VendzzError,
)
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    import redis
    from redis.cluster import RedisCluster

SLOTS = 16384
SOCKET_TIMEOUT_S = 30.0
#: Replaces a hash atomically: fields that disappeared from the row do not linger, and the key
#: never exists without its TTL. Returns a status reply so every reply is one line.
#: Under ``maxmemory``, Redis checks a script for OOM once, before its first write, and never
#: again: the script must not start with ``DEL`` (not a "denyoom" command) or its ``HSET`` writes
#: past the limit. Redis 7 reads the ``#!lua`` line: a script that declares it (without the
#: ``no-writes`` or ``allow-oom`` flags) is a write script, refused with OOM before it runs.
#: Redis 6 cannot parse that line; there the script's first write is a ``SET`` of the key
#: (denyoom, so checked; it also replaces a key of another type), then ``DEL`` and ``HSET``.
_REPLACE_HASH_BODY = """\
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return redis.status_reply('OK')
"""
#: Redis >= 7: refused with OOM before it runs.
REPLACE_HASH = "#!lua\n" + _REPLACE_HASH_BODY
#: Redis 6 (no ``#!lua`` line): checked at its first write, the SET.
REPLACE_HASH_LEGACY = "if #ARGV > 1 then redis.call('SET', KEYS[1], '') end\n" + _REPLACE_HASH_BODY
SCRIPT_SHA = hashlib.sha1(REPLACE_HASH.encode()).hexdigest()
LEGACY_SCRIPT_SHA = hashlib.sha1(REPLACE_HASH_LEGACY.encode()).hexdigest()


def key_slot(key: bytes) -> int:
    """Redis Cluster hash slot of ``key`` (honours ``{hash tags}``)."""
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key, 0) & (SLOTS - 1)


class Retryable(Exception):
    """A reply that asks to try again elsewhere or later (MOVED, ASK, TRYAGAIN, CLUSTERDOWN...)."""


def retrying(client: ClientBehaviour) -> Retrying:
    """The project's retry policy, tightened to the service's Redis client behaviour."""
    return retry.policy(
        attempts=client.max_retries + 1,
        first_delay_s=client.retry_delay_ms / 1000,
        max_delay_s=max(client.retry_delay_ms / 1000 * 8, 0.001),
        retry_on=lambda exc: retry.is_transient(exc) or isinstance(exc, Retryable | OSError),
    )


def map_error(exc: BaseException, where: str) -> VendzzError:
    """Turn a redis-py / socket error into the project's one-line errors."""
    import redis.exceptions as rexc

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, rexc.AuthenticationError) or text.startswith(("WRONGPASS", "NOAUTH")):
        return ConnectionFailed(f"Redis authentication failed at {where}: {text}")
    if text.startswith("NOPERM"):
        return PermissionDenied(f"Redis at {where} refused a command: {text}")
    down = text.startswith("CLUSTERDOWN") or "slots are not covered" in text
    if down or isinstance(exc, rexc.ClusterDownError):
        return TargetError(f"Redis cluster at {where} is down: {text}")
    if isinstance(exc, rexc.ConnectionError | rexc.TimeoutError | OSError | rexc.ClusterError) or (
        "could not be connected" in text or "reachable node" in text
    ):
        return ConnectionFailed(f"cannot reach Redis at {where}: {text}")
    if isinstance(exc, Retryable):
        return TargetError(f"Redis at {where} kept redirecting: {text}")
    return TargetError(f"Redis at {where} answered an error: {text}")


@contextlib.contextmanager
def redis_errors(where: str) -> Iterator[None]:
    import redis.exceptions as rexc

    try:
        yield
    except (rexc.RedisError, rexc.RedisClusterException, OSError, Retryable) as exc:
        raise map_error(exc, where) from None


@dataclass
class Node:
    """One master: its address and a plain client (INFO, SCAN, SCRIPT LOAD, lanes)."""

    address: str
    client: redis.Redis


@dataclass
class Target:
    """The Redis the spec names: one standalone server or the masters of a cluster."""

    url: str
    mode: str
    nodes: dict[str, Node]
    cluster: RedisCluster | None = None
    slot_owner: list[str] = field(default_factory=list)

    def owner(self, key: bytes) -> str:
        if self.cluster is None:
            return next(iter(self.nodes))
        return self.slot_owner[key_slot(key)]

    def refresh(self) -> None:
        """Re-read the cluster topology (after MOVED, failover or a node loss)."""
        if self.cluster is None:
            return
        with redis_errors(self.url):
            self.cluster.nodes_manager.initialize()
        self._load_topology()

    def _load_topology(self) -> None:
        assert self.cluster is not None
        owners = [""] * SLOTS
        for slot, nodes in self.cluster.nodes_manager.slots_cache.items():
            owners[slot] = nodes[0].name
        missing = sum(1 for o in owners if not o)
        if missing:
            raise TargetError(f"Redis cluster at {self.url} is down: {missing} hash slots unserved")
        self.nodes = {
            n.name: self.nodes.get(n.name) or Node(n.name, self.cluster.get_redis_connection(n))
            for n in _primaries(self.cluster)
        }
        self.slot_owner = owners

    def info(self, section: str) -> dict[str, dict[str, Any]]:
        """``INFO section`` of every master, by address."""
        result = {}
        for address, node in self.nodes.items():
            with redis_errors(f"{self.url} ({address})"):
                result[address] = dict(node.client.info(section))
        return result

    def dbsize(self) -> int:
        """Keys in the selected database, summed over the masters."""
        total = 0
        for address, node in self.nodes.items():
            with redis_errors(f"{self.url} ({address})"):
                total += int(node.client.dbsize())
        return total

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.cluster is not None:
                self.cluster.close()
            for node in self.nodes.values():
                node.client.connection_pool.disconnect()


def open_target(settings: Settings, client: ClientBehaviour) -> Target:
    """Connect to ``settings.redis_url``; a cluster is detected (``INFO cluster``)."""
    import redis

    url = settings.redis_url
    if not url:
        raise ConfigError("no Redis URL: pass --redis or set REDIS_URL")
    where = mask(url)
    opts: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout_s,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "max_connections": settings.redis_max_connections,
    }
    try:
        pool = redis.BlockingConnectionPool.from_url(url, timeout=SOCKET_TIMEOUT_S, **opts)
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {where}: {exc}") from None
    plain = redis.Redis(connection_pool=pool)
    with redis_errors(where):
        enabled = retrying(client)(lambda: plain.info("cluster").get("cluster_enabled"))
    if not enabled:
        address = _address(pool.connection_kwargs)
        return Target(where, "standalone", {address: Node(address, plain)})
    pool.disconnect()
    return _open_cluster(url, where, opts, client)


def _address(kwargs: dict[str, Any]) -> str:
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _open_cluster(url: str, where: str, opts: dict[str, Any], client: ClientBehaviour) -> Target:
    from redis.cluster import RedisCluster

    with redis_errors(where):
        cluster = retrying(client)(lambda: RedisCluster.from_url(url, **opts))
        state = cluster.cluster_info(target_nodes=RedisCluster.RANDOM)
    if _state(state) != "ok":
        raise TargetError(f"Redis cluster at {where} is down: cluster_state:{_state(state)}")
    if len(_primaries(cluster)) > opts["max_connections"]:
        raise ConfigError(
            f"REDIS_MAX_CONNECTIONS={opts['max_connections']} is fewer than the "
            f"{len(_primaries(cluster))} cluster masters (warm-cache needs one connection each)"
        )
    target = Target(where, "cluster", {}, cluster)
    target._load_topology()
    return target


def _primaries(cluster: RedisCluster) -> list[Any]:
    return list(cluster.get_primaries())  # type: ignore[no-untyped-call]


def _state(info: Any) -> str:
    if isinstance(info, dict) and "cluster_state" in info:
        return str(info["cluster_state"])
    if isinstance(info, dict):  # one answer per node
        states = {_state(v) for v in info.values()}
        return "ok" if states == {"ok"} else ",".join(sorted(states - {"ok"}))
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("cluster_state:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


@dataclass
class Batch:
    rows: list[tuple[bytes, bytes]]  # (key, RESP command)
    payload: bytes


@dataclass
class Lane:
    """One connection to one node, writing raw RESP with one batch in flight."""

    node: Node
    conn: Any = None
    inflight: deque[Batch] = field(default_factory=deque)
    _buf: bytes = b""

    def open(self) -> None:
        if self.conn is None:
            self.conn = self.node.client.connection_pool.get_connection()
            self.conn.connect()

    def send(self, batch: Batch) -> None:
        self.inflight.append(batch)
        self.open()
        self.conn._sock.sendall(batch.payload)

    def drain(self, keep: int, on_reply: Callable[[Batch, bytes], None]) -> None:
        """Read the replies of all but the last ``keep`` batches in flight."""
        while len(self.inflight) > keep:
            batch = self.inflight[0]
            replies = self._read_lines(len(batch.rows))
            self.inflight.popleft()
            on_reply(batch, replies)

    def _read_lines(self, n: int) -> bytes:
        chunks, count = [self._buf], self._buf.count(b"\n")
        while count < n:
            chunk = self.conn._sock.recv(1 << 18)
            if not chunk:
                raise ConnectionResetError("connection closed by Redis")
            chunks.append(chunk)
            count += chunk.count(b"\n")
        data = b"".join(chunks)
        pos = len(data)
        if count > n:  # replies of the next batch arrived too: cut after the n-th line
            pos = 5 * n if data.startswith(b"+OK\r\n" * n) else 0
            for _ in range(0 if pos else n):
                pos = data.index(b"\n", pos) + 1
        self._buf = data[pos:]
        return data[:pos]

    def reset(self) -> list[Batch]:
        """Drop the connection; return the batches whose replies were not read."""
        pending = list(self.inflight)
        self.inflight.clear()
        self._buf = b""
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.disconnect()
                self.node.client.connection_pool.release(self.conn)
            self.conn = None
        return pending

    def close(self) -> None:
        if self.conn is not None:
            self.node.client.connection_pool.release(self.conn)
            self.conn = None
