"""Pieces of the service on their own: the pool the spec asks for (real PostgreSQL), SQLite's
WAL and busy timeout, timestamps printed as PostgreSQL prints them, ids, schema names."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from examples.service import codec
from examples.service.config import ServiceConfig
from examples.service.db import Database, make_engine, nanoid
from examples.service.models import ResponseIn
from examples.service.schema import pg_schema
from tests.examples.service.conftest import Sample


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_postgres_pool_has_the_spec_sizes_and_drops_idle_connections(pg_copy: str) -> None:
    db = Database(ServiceConfig(database_url=pg_copy))
    try:
        pool = db.engine.pool
        assert isinstance(pool, sa.QueuePool)
        assert (pool.size(), pool._max_overflow) == (10, 40)  # 10 kept, 50 at most
        assert pool._timeout == 10  # wait for a connection: the connect timeout
        first = _backend_pid(db.engine)
        assert _backend_pid(db.engine) == first  # reused while fresh
        record = pool._pool.queue[0]  # the one idle connection
        record.info["idle_since"] -= 31  # idle for longer than the 30 s idle timeout
        assert _backend_pid(db.engine) != first
        assert db.pool().max == 50 and db.pool().in_use == 0
    finally:
        db.close()


def test_pool_sizes_follow_the_environment() -> None:
    cfg = ServiceConfig.from_env(
        {
            "DATABASE_URL": "postgresql://u@127.0.0.1:1/x",
            "PGPOOL_MIN_CONNECTIONS": "2",
            "PGPOOL_MAX_CONNECTIONS": "5",
        }
    )
    engine = make_engine(cfg)
    try:
        assert (engine.pool.size(), engine.pool._max_overflow) == (2, 3)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "key"), [(None, "vendzz:maintenance"), ("freeze:app", "freeze:app"), ("off", None)]
)
def test_maintenance_key_from_the_environment(given: str | None, key: str | None) -> None:
    env = {"DATABASE_URL": "sqlite:///x.db"}
    if given is not None:
        env["VENDZZ_MAINTENANCE_KEY"] = given
    assert ServiceConfig.from_env(env).maintenance_key == key


def test_sqlite_runs_in_wal_with_a_busy_timeout(sample: Sample) -> None:
    engine = make_engine(ServiceConfig(database_url=sample.url))
    try:
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    finally:
        engine.dispose()
    assert (mode, busy) == ("wal", 5000)


@pytest.mark.parametrize("micro", [0, 1, 10, 120_000, 123_456, 999_999])
def test_timestamps_print_as_postgres_to_json(pg_url: str, micro: int) -> None:
    moment = datetime(2024, 2, 29, 23, 59, 58, micro, tzinfo=UTC)
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TimeZone TO 'UTC'")
        row = conn.execute("SELECT to_json(%s::timestamptz) #>> '{}'", [moment]).fetchone()
    assert row is not None and codec.pg_timestamp(moment) == row[0]


def test_nanoid_ids_are_21_url_safe_characters() -> None:
    ids = {nanoid() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{21}", i) for i in ids)


@pytest.mark.parametrize(("url", "configured", "expected"), [
    ("postgresql://u@h/db", None, "public"),
    ("postgresql://u@h/db?options=-csearch_path%3Dapp", None, "app"),
    ("postgresql://u@h/db?options=-c%20search_path%3Dapp%2Cpublic", None, "app"),
    ("postgresql://u@h/db?options=-csearch_path%3Dapp", "other", "other"),
])  # fmt: skip
def test_schema_from_env_or_search_path(url: str, configured: str | None, expected: str) -> None:
    assert pg_schema(url, configured) == expected


def test_one_variable_per_answered_element() -> None:
    listed = ResponseIn.model_validate(
        {
            "responses": [
                {"elementId": "e1", "answer": "a", "pageId": "p1", "elementType": "text"},
                {"elementFieldId": "f2", "value": 3},
            ]
        }
    ).variables()
    keyed = ResponseIn.model_validate({"responses": {"nome": "Ana", "idade": 30}}).variables()
    assert [(v["variableName"], v["variableValue"], v["pageOrder"]) for v in listed] == [
        ("e1", "a", 0),
        ("f2", 3, 1),
    ]
    assert [(v["variableName"], v["variableValue"]) for v in keyed] == [
        ("nome", "Ana"),
        ("idade", 30),
    ]


def test_redis_client_has_the_spec_behaviour_and_connects_lazily() -> None:
    """20 connections, 3 retries 100 ms apart, nothing opened before the first command; a
    Redis that is not there is a cache miss and a 'down', never an error."""
    from redis.backoff import ConstantBackoff

    from examples.service.redis_side import RedisSide

    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    side = RedisSide(
        ServiceConfig(database_url="sqlite:///x.db", redis_url=f"redis://127.0.0.1:{port}/0")
    )
    assert side.client is not None
    pool = side.client.connection_pool
    retry = pool.connection_kwargs["retry"]
    assert pool.max_connections == 20 and retry.get_retries() == 3
    assert isinstance(retry._backoff, ConstantBackoff) and retry._backoff.compute(1) == 0.1
    with pytest.raises(BlockingIOError):
        listener.accept()  # lazy connect: nobody knocked
    listener.close()  # and now nothing listens there
    assert side.get_quiz("q1") is None
    assert side.cache_stats()["misses"] == 1 and side.status() == "down"
    assert side.allow_login("a@b.example") == (True, 60)  # the in-process limiter took over
    assert side.maintenance_key() is None  # unknown: maintenance fails closed
