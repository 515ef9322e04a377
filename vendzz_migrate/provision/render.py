"""Render each config file from a profile and the environment (pure functions, no I/O)."""

from __future__ import annotations

import math
from string import Template
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.preflight.profile import Profile
from vendzz_migrate.provision.secrets import redis_acl_hash, userlist_line
from vendzz_migrate.provision.templates import PromRuleFile, templates
from vendzz_migrate.urls import mask


class PgTarget(BaseModel):
    """The PostgreSQL PgBouncer pools, from ``DATABASE_URL``."""

    user: str
    password: str
    host: str
    port: int
    dbname: str


class Pools(BaseModel):
    instances: int
    pgpool_min: int
    pgpool_max: int
    redis_max: int


def pg_target(url: str | None) -> PgTarget:
    if not url:
        raise ConfigError("provision needs DATABASE_URL (the PostgreSQL that PgBouncer pools)")
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"} or not parts.hostname:
        raise ConfigError(f"DATABASE_URL is not a postgresql://user:pass@host/db URL: {mask(url)}")
    if not parts.username or parts.password is None:
        raise ConfigError(
            f"DATABASE_URL has no user or password ({mask(url)}): PgBouncer's userlist needs both"
        )
    return PgTarget(
        user=unquote(parts.username),
        password=unquote(parts.password),
        host=parts.hostname,
        port=parts.port or 5432,
        dbname=unquote(parts.path.lstrip("/")) or unquote(parts.username),
    )


def _headroom(demand: int, alert_pct: float) -> int:
    """The smallest limit that keeps ``demand`` at or under ``alert_pct`` % of it."""
    return math.ceil(demand * 100 / alert_pct)


def pgbouncer_ini(profile: Profile, pg: PgTarget, pools: Pools) -> str:
    bouncer = profile.pgbouncer
    guidance = profile.postgres.cores * 2 + profile.pools.spindles
    clients = pools.instances * pools.pgpool_max
    return Template(templates().pgbouncer_ini).substitute(
        profile=profile.name,
        db_alias=pg.dbname,
        pg_host=pg.host,
        pg_port=pg.port,
        pg_dbname=pg.dbname,
        listen_addr=bouncer.listen_addr,
        listen_port=bouncer.listen_port,
        auth_type=bouncer.auth_type,
        auth_file=bouncer.auth_file,
        pg_user=pg.user,
        pool_mode=bouncer.pool_mode,
        app_connections=clients,
        alert_pct=f"{profile.pools.alert_pct:g}",
        max_client_conn=_headroom(clients, profile.pools.alert_pct),
        default_pool_size=guidance,
        min_pool_size=min(pools.pgpool_min, guidance),
        reserve_pool_size=bouncer.reserve_pool_size,
        max_db_connections=guidance + bouncer.reserve_pool_size,
    )


def userlist(profile: Profile, pg: PgTarget) -> str:
    return userlist_line(pg.user, pg.password, profile.pgbouncer.auth_type)


def nginx_conf(profile: Profile) -> str:
    servers = "\n".join(
        f"    server {s.host}:{s.port} weight={s.weight} max_fails=3 fail_timeout=10s;"
        for s in profile.app.servers
    )
    return Template(templates().nginx_conf).substitute(profile=profile.name, servers=servers)


def redis_conf(profile: Profile, redis_url: str | None, pools: Pools) -> str:
    redis = profile.redis
    floor = redis.maxmemory_gb.recommended or redis.maxmemory_gb.min
    clients = pools.instances * pools.redis_max + profile.pools.redis_reserved_clients
    parts = urlsplit(redis_url or "")
    auth = ""
    if parts.password:
        user = unquote(parts.username or "") or "default"
        auth = f"user {user} on {redis_acl_hash(unquote(parts.password))} ~* &* +@all"
    return Template(templates().redis_conf).substitute(
        profile=profile.name,
        bind=redis.bind,
        port=redis.port,
        dir=redis.dir,
        appendfsync=redis.appendfsync,
        maxmemory=f"{round(floor * 1024)}mb" if floor else "0",
        maxmemory_policy=redis.maxmemory_policies[0],
        app_clients=clients,
        maxclients=max(_headroom(clients, profile.pools.alert_pct), 10000),
        auth=auth,
    )


def env_file(profile: Profile, pg: PgTarget, redis_url: str | None, pools: Pools) -> str:
    bouncer = profile.pgbouncer
    netloc = (
        f"{quote(pg.user, safe='')}:{quote(pg.password, safe='')}@{bouncer.host}:"
        f"{bouncer.listen_port}"
    )
    through_bouncer = urlunsplit(("postgresql", netloc, "/" + quote(pg.dbname), "", ""))
    direct = f"postgresql://{quote(pg.user, safe='')}:***@{pg.host}:{pg.port}/{pg.dbname}"
    return Template(templates().env).substitute(
        profile=profile.name,
        direct_url=direct,
        database_url=through_bouncer,
        pgpool_min=pools.pgpool_min,
        pgpool_max=pools.pgpool_max,
        redis_url=redis_url or default_redis_url(profile),
        redis_max=pools.redis_max,
    )


def default_redis_url(profile: Profile) -> str:
    host = "127.0.0.1" if profile.redis.bind in {"0.0.0.0", "*"} else profile.redis.bind.split()[0]
    return f"redis://{host}:{profile.redis.port}/0"


def alert_rules(profile: Profile) -> str:
    alerts, targets = profile.alerts, profile.targets
    values = {
        "cpu_pct": f"{alerts.cpu_pct:g}",
        "cpu_for": alerts.cpu_for,
        "ram_pct": f"{alerts.ram_pct:g}",
        "ram_for": alerts.ram_for,
        "db_pct": f"{alerts.db_connections_pct:g}",
        "db_for": alerts.db_connections_for,
        "error_pct": f"{alerts.error_rate_pct:g}",
        "error_for": alerts.error_rate_for,
        "response_s": f"{alerts.response_time_s:g}",
        "response_for": alerts.response_time_for,
        "uptime_pct": f"{targets.uptime_pct:g}",
        "budget": f"{(100 - targets.uptime_pct) / 100:.6g}",
    }
    rules = []
    for item in templates().alert_rules:
        sub = {
            k: Template(v).substitute(values)
            for k, v in {"expr": item.expr, "for": item.for_, "summary": item.summary}.items()
        }
        rules.append(
            {
                "alert": item.alert,
                "expr": sub["expr"],
                "for": sub["for"],
                "labels": {"severity": item.severity, "service": "vendzz"},
                "annotations": {"summary": sub["summary"], "profile": profile.name},
            }
        )
    document = {"groups": [{"name": "vendzz-production-spec", "rules": rules}]}
    PromRuleFile.model_validate(document)
    header = f"# Prometheus alert rules rendered by vendzz-migrate provision ({profile.name}).\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=1000)
