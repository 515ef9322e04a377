"""PostgreSQL, Redis and pools against real servers, with failing conditions produced for real."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from tests.preflight.helpers import checked
from tests.support import free_port
from vendzz_migrate.preflight.host import HostFacts
from vendzz_migrate.preflight.model import PreflightReport, Status
from vendzz_migrate.preflight.postgres import pgtune, read_pg_facts
from vendzz_migrate.preflight.redis_server import read_redis_facts
from vendzz_migrate.settings import Settings

GIB = 1024**3
HOST = HostFacts(
    cores=8,
    ram_bytes=16 * GIB,
    data_path="/",
    disk_free_bytes=500 * GIB,
    rotational=False,
    nic_mbps=1000,
    overcommit_memory=1,
    transparent_hugepages="never",
    somaxconn=4096,
)
ENV = {"DATABASE_URL": "postgresql://u:p@h/db", "REDIS_URL": "redis://h:6379/0"}


def check(report: PreflightReport, cid: str) -> Status:
    found = [c for c in report.checks if c.id == cid]
    assert len(found) == 1, f"{cid} not in {[c.id for c in report.checks]}"
    return found[0].status


def preflight(profile: str = "dev", **urls: str | None) -> PreflightReport:
    settings = Settings(database_url=urls.get("pg"), redis_url=urls.get("redis"))
    return checked(settings, profile, host=HOST, environ=ENV)


def test_postgres_checks_pass_and_create_probe_leaves_nothing(pg_url: str) -> None:
    report = preflight(pg=pg_url)
    for cid in ("reachable", "version", "latency", "encoding", "create"):
        assert check(report, f"postgres.{cid}") is Status.PASS
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'vendzz_preflight_%'")
        assert left.fetchone() == (0,)


def test_unreachable_postgres_and_redis_fail_without_raising() -> None:
    port = free_port()
    report = preflight(
        pg=f"postgresql://postgres:hunter2@127.0.0.1:{port}/x",
        redis=f"redis://:hunter2@127.0.0.1:{port}/0",
    )
    assert check(report, "postgres.reachable") is Status.FAIL
    assert check(report, "redis.reachable") is Status.FAIL
    assert report.exit_code == 10
    assert "hunter2" not in report.model_dump_json()


def test_role_without_create_fails_the_create_check(pg_url: str) -> None:
    role = f"vzt_nocreate_{uuid.uuid4().hex[:8]}"
    dbname = urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'REVOKE ALL ON DATABASE "{dbname}" FROM PUBLIC')
        conn.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO "{role}"')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    parts = urlsplit(pg_url)
    as_role = urlunsplit(
        (parts.scheme, f"{role}@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    try:
        facts = read_pg_facts(as_role, "public")
        assert facts.reachable
        assert not facts.can_create
        assert "permission denied" in facts.create_error
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'REVOKE ALL ON DATABASE "{dbname}" FROM "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_low_max_connections_fails_the_pool_budget(low_max_pg: str) -> None:
    facts = read_pg_facts(low_max_pg, "public")
    assert facts.max_connections == 20
    report = preflight(pg=low_max_pg)
    assert check(report, "pools.pg_connections") is Status.FAIL
    measured = next(c.measured for c in report.checks if c.id == "pools.pg_connections")
    assert "max_connections 20" in measured
    assert "1 instances x PGPOOL_MAX 50" in measured


def test_pool_budget_passes_and_alert_threshold_warns(pg_url: str) -> None:
    max_conn = read_pg_facts(pg_url, "public").max_connections
    settings = Settings(database_url=pg_url, pgpool_max_connections=1)
    ok = checked(settings, "dev", host=HOST, environ=ENV)
    assert check(ok, "pools.pg_connections") is Status.PASS
    # demand just above 80 % of max_connections: the spec's alert fires -> warn
    reserved = read_pg_facts(pg_url, "public").reserved + 5
    per_instance = int(max_conn * 0.8) - reserved + 1
    warn = checked(
        settings.model_copy(update={"pgpool_max_connections": per_instance}),
        "dev",
        host=HOST,
        environ=ENV,
    )
    assert check(warn, "pools.pg_connections") is Status.WARN


def test_pool_min_greater_than_max_fails() -> None:
    settings = Settings(pgpool_min_connections=60, pgpool_max_connections=50)
    assert check(checked(settings, "dev", host=HOST, environ=ENV), "pools.sizes") is Status.FAIL


def test_pgtune_formulas() -> None:
    # pgtune "web", 16 GiB, 4 cores, 100 connections: 4 GiB / 12 GiB / 20971 kB
    tune = pgtune(16 * GIB, 4, 100)
    assert tune["shared_buffers"] == 4 * GIB
    assert tune["effective_cache_size"] == 12 * GIB
    assert tune["work_mem"] // 1024 == 20971


def test_redis_persistence_off_fails_then_on_passes(own_redis: str) -> None:
    client = redis.Redis.from_url(own_redis)
    client.config_set("appendonly", "no")
    client.config_set("save", "")
    report = preflight("staging", redis=own_redis)
    assert check(report, "redis.aof") is Status.FAIL
    assert check(report, "redis.rdb") is Status.WARN  # staging: RDB only warns
    client.config_set("appendonly", "yes")
    client.config_set("save", "900 1 300 10")
    client.config_set("maxmemory", str(2 * GIB))
    report = preflight("staging", redis=own_redis)
    assert check(report, "redis.aof") is Status.PASS
    assert check(report, "redis.rdb") is Status.PASS
    assert check(report, "redis.maxmemory") is Status.PASS


def test_redis_appendfsync_policy_and_maxclients(own_redis: str) -> None:
    client = redis.Redis.from_url(own_redis)
    client.config_set("appendonly", "yes")
    client.config_set("appendfsync", "always")
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxclients", "50")
    report = preflight("production-1000", redis=own_redis)
    assert check(report, "redis.appendfsync") is Status.FAIL
    assert check(report, "redis.maxmemory") is Status.WARN  # 0 = unlimited
    assert check(report, "redis.maxmemory_policy") is Status.WARN
    assert check(report, "redis.cluster") is Status.WARN  # one node, spec wants 3
    assert check(report, "pools.redis_clients") is Status.FAIL  # 3 x 20 + 10 > 50


def test_redis_facts_read_version_and_latency(own_redis: str) -> None:
    facts = read_redis_facts(own_redis)
    assert facts.reachable
    assert facts.version.count(".") == 2
    assert facts.latency_ms > 0
    assert facts.cluster_enabled is False


@pytest.mark.parametrize(
    ("overcommit", "thp", "somaxconn", "bad"),
    [
        (1, "never", 4096, set()),
        (0, "always", 128, {"redis.overcommit", "redis.thp", "redis.somaxconn"}),
    ],
)
def test_kernel_checks_use_host_facts(
    own_redis: str, overcommit: int, thp: str, somaxconn: int, bad: set[str]
) -> None:
    host = HOST.model_copy(
        update={
            "overcommit_memory": overcommit,
            "transparent_hugepages": thp,
            "somaxconn": somaxconn,
        }
    )
    kernel = {"redis.overcommit", "redis.thp", "redis.somaxconn"}
    settings = Settings(redis_url=own_redis)
    report = checked(settings, "production-1000", role="redis", host=host, environ=ENV)
    warned = {c.id for c in report.checks if c.id in kernel and c.status is Status.WARN}
    assert warned == bad
    # on an app server the Redis node's kernel is not this machine's: listed as not run
    report = checked(settings, "production-1000", host=host, environ=ENV)
    assert {c.id for c in report.checks if c.id in kernel and c.status is Status.SKIP} == kernel
