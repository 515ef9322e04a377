"""Redis: the spec's client (20 connections, 100 ms retry delay, 3 retries, lazy connect), the
read-through quiz cache on warm-cache's own keys, the login rate limiter and the maintenance key.

Redis is an optimisation: when it is down every call here falls back (a cache miss, the
in-process limiter) and the failure is remembered for a second, so requests do not each wait for
it; ``/health`` reports it. The maintenance key is the exception: a key that cannot be read may
hold a freeze, so it reads as unknown and maintenance fails closed (``VENDZZ_MAINTENANCE_KEY=off``
leaves the key out: Redis down then never stops writes).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from examples.service.config import ServiceConfig
from vendzz_migrate.cache.spec import load_spec, parse_template
from vendzz_migrate.errors import ConfigError
from vendzz_migrate.urls import mask

T = TypeVar("T")
LOGIN_KEY = "vendzz:ratelimit:login:{}"
SOCKET_TIMEOUT_S = 2.0
DOWN_FOR_S = 1.0
LOCAL_KEYS_MAX = 10_000


@dataclass(frozen=True)
class QuizCache:
    """The ``quiz`` cache of warm-cache's default spec: key prefix, TTL and jitter."""

    prefix: str
    ttl_s: int
    jitter_s: int

    @classmethod
    def from_default_spec(cls) -> QuizCache:
        spec = load_spec()
        cache = next(c for c in spec.caches if c.name == "quiz")
        template = parse_template(cache.key)
        if template.columns != ["id"]:
            raise ValueError(f"warm-cache's quiz key {cache.key!r} is not keyed by id alone")
        ttl, jitter = spec.ttl_of(cache)
        return cls(template.prefix, ttl, jitter)

    def key(self, quiz_id: str) -> str:
        return self.prefix + quiz_id

    def ttl(self) -> int:
        return self.ttl_s + random.randint(-self.jitter_s, self.jitter_s)


def _pool(cfg: ServiceConfig) -> redis.BlockingConnectionPool:
    """The spec's client: REDIS_MAX_CONNECTIONS, 100 ms between retries, at most 3 retries."""
    assert cfg.redis_url is not None
    try:
        return redis.BlockingConnectionPool.from_url(
            cfg.redis_url,
            max_connections=cfg.redis_max_connections,
            timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            retry=Retry(ConstantBackoff(cfg.redis_retry_delay_ms / 1000), cfg.redis_max_retries),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
    except ValueError as exc:
        raise ConfigError(f"invalid REDIS_URL {mask(cfg.redis_url)}: {exc}") from None


class RedisSide:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.url = mask(cfg.redis_url) if cfg.redis_url else None
        self.client: redis.Redis | None = None
        if cfg.redis_url:
            pool = _pool(cfg)  # redis-py connects lazily: nothing is opened before a command
            self.client = redis.Redis(connection_pool=pool)
        self.quiz = QuizCache.from_default_spec()
        self.hits = 0
        self.misses = 0
        self.last_error: str | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._local: dict[str, tuple[int, float]] = {}  # the limiter without Redis

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, fn: Callable[[redis.Redis], T], fallback: T) -> tuple[T, bool]:
        """``fn(client)``, or ``(fallback, False)`` when Redis is off or down."""
        if self.client is None or time.monotonic() < self._down_until:
            return fallback, False
        try:
            result = fn(self.client)
        except (redis.RedisError, OSError) as exc:
            self.last_error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._down_until = time.monotonic() + DOWN_FOR_S
            return fallback, False
        self.last_error = None
        return result, True

    def status(self) -> str:
        """``off`` (no REDIS_URL), ``ok`` or ``down`` (after a PING)."""
        if self.client is None:
            return "off"
        self._down_until = 0.0
        _, ok = self._call(lambda c: c.ping(), False)
        return "ok" if ok else "down"

    # -- the quiz cache ----------------------------------------------------------------------
    def get_quiz(self, quiz_id: str) -> bytes | None:
        value, ok = self._call(lambda c: c.get(self.quiz.key(quiz_id)), None)
        with self._lock:
            if ok and value is not None:
                self.hits += 1
            else:
                self.misses += 1
        return value if isinstance(value, bytes) else None

    def put_quiz(self, quiz_id: str, body: bytes) -> None:
        self._call(lambda c: c.set(self.quiz.key(quiz_id), body, ex=self.quiz.ttl()), None)

    def cache_stats(self) -> dict[str, Any]:
        total = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
        }

    # -- the login rate limiter --------------------------------------------------------------
    def allow_login(self, who: str) -> tuple[bool, int]:
        """(allowed, seconds until the window ends): INCR, EXPIRE on the first hit."""
        key = LOGIN_KEY.format(who)
        window = self.cfg.login_window_s

        def incr(client: redis.Redis) -> tuple[int, int]:
            count = int(client.incr(key))
            if count == 1:
                client.expire(key, window)
            ttl = int(client.ttl(key))
            return count, ttl if ttl > 0 else window

        (count, left), ok = self._call(incr, (0, 0))
        if not ok:
            count, left = self._local_incr(key, window)
        return count <= self.cfg.login_limit, left

    def _local_incr(self, key: str, window: int) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            if len(self._local) > LOCAL_KEYS_MAX:  # forget windows that are over
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
            count, until = self._local.get(key, (0, 0.0))
            if until <= now:
                count, until = 0, now + window
            self._local[key] = (count + 1, until)
        return count + 1, max(int(until - now), 1)

    # -- maintenance -------------------------------------------------------------------------
    def maintenance_key(self) -> bool | None:
        """Whether the maintenance key is set; None when Redis cannot say (down)."""
        key = self.cfg.maintenance_key
        if self.client is None or key is None:
            return False
        value, ok = self._call(lambda c: c.exists(key), 0)
        return bool(value) if ok else None

    def close(self) -> None:
        if self.client is not None:
            self.client.connection_pool.disconnect()
