"""Pools: the app's PostgreSQL and Redis pools against what the servers (or PgBouncer) allow.

Numbers: app instances x ``PGPOOL_MAX_CONNECTIONS`` plus reserved connections against
``max_connections`` (the spec alerts at 80 %), the (cores x 2) + spindles guidance for active
server connections, ``PGPOOL_MIN <= MAX``, Redis ``maxclients`` against app instances x
``REDIS_MAX_CONNECTIONS``, and PgBouncer's transaction mode against named prepared statements.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import BaseModel

from vendzz_migrate.errors import VendzzError
from vendzz_migrate.preflight.model import Area, Check, Status, make_check, on_miss, skip_check
from vendzz_migrate.preflight.profile import PoolsProfile
from vendzz_migrate.urls import mask_text


class PgBouncerFacts(BaseModel):
    reachable: bool
    error: str = ""
    pool_mode: str = ""
    max_client_conn: int = 0
    default_pool_size: int = 0
    reserve_pool_size: int = 0
    max_prepared_statements: int | None = None
    server_connections: int = 0


class PoolInputs(BaseModel):
    """What the pool checks need; any server part may be missing (unreachable or not given)."""

    instances: int
    pgpool_min: int
    pgpool_max: int
    redis_max_connections: int
    pg_max_connections: int | None = None
    pg_reserved: int = 0
    redis_maxclients: int | None = None
    pg_cores: int
    pgbouncer: PgBouncerFacts | None = None


def read_pgbouncer_facts(admin_url: str, connect_timeout_s: int = 10) -> PgBouncerFacts:
    """SHOW CONFIG / SHOW DATABASES on the admin console (simple query protocol)."""
    import psycopg

    from vendzz_migrate import pg

    try:
        with pg.connect(
            admin_url,
            command="preflight",
            role="pgbouncer",
            autocommit=True,
            timeout_s=connect_timeout_s,
            attempts=1,
            cursor_factory=psycopg.ClientCursor,
        ) as conn:
            config = {str(r[0]): str(r[1]) for r in conn.execute("SHOW CONFIG").fetchall()}
            cur = conn.execute("SHOW DATABASES")
            dbs = [
                dict(zip([d.name for d in cur.description or []], r, strict=True))
                for r in cur.fetchall()
            ]
    except VendzzError as exc:  # connecting
        return PgBouncerFacts(reachable=False, error=str(exc.data["reason"]))
    except psycopg.Error as exc:  # SHOW CONFIG / SHOW DATABASES
        return PgBouncerFacts(reachable=False, error=mask_text((str(exc).splitlines() or [""])[0]))
    return _bouncer(config, dbs)


def _bouncer(config: dict[str, str], dbs: list[dict[str, Any]]) -> PgBouncerFacts:
    default = int(config.get("default_pool_size", "20"))
    reserve = int(config.get("reserve_pool_size", "0"))
    server = 0
    for db in dbs:
        if db.get("name") == "pgbouncer":
            continue
        server += int(db.get("pool_size") or default) + int(db.get("reserve_pool") or reserve)
    prepared = config.get("max_prepared_statements")
    return PgBouncerFacts(
        reachable=True,
        pool_mode=config.get("pool_mode", ""),
        max_client_conn=int(config.get("max_client_conn", "0")),
        default_pool_size=default,
        reserve_pool_size=reserve,
        max_prepared_statements=int(prepared) if prepared is not None else None,
        server_connections=server,
    )


_check = partial(make_check, Area.POOLS)


def pool_checks(inputs: PoolInputs, profile: PoolsProfile) -> list[Check]:
    checks = [_min_max(inputs, profile)]
    bouncer = inputs.pgbouncer
    if bouncer is not None:
        checks += _bouncer_checks(inputs, bouncer, profile)
    if inputs.pg_max_connections is not None:
        checks.append(_pg_budget(inputs, profile))
    else:
        checks.append(_unread("pg_connections", "PostgreSQL connection budget", "max_connections"))
    checks.append(_guidance(inputs, profile))
    if inputs.redis_maxclients is not None:
        checks.append(_redis_budget(inputs, profile))
    else:
        checks.append(_unread("redis_clients", "Redis client budget", "maxclients"))
    return checks


def _unread(cid: str, title: str, setting: str) -> Check:
    why = f"no {setting} to compare with (server not given or not reachable)"
    return skip_check(Area.POOLS, cid, title, why, "give the server's URL (--target / --redis)")


def _min_max(inputs: PoolInputs, profile: PoolsProfile) -> Check:
    measured = (
        f"PGPOOL_MIN {inputs.pgpool_min}, MAX {inputs.pgpool_max}, "
        f"REDIS_MAX {inputs.redis_max_connections}"
    )
    spec = (profile.pgpool_min, profile.pgpool_max, profile.redis_max_connections)
    if inputs.pgpool_min > inputs.pgpool_max:
        status = Status.FAIL
    elif (inputs.pgpool_min, inputs.pgpool_max, inputs.redis_max_connections) != spec:
        status = Status.PASS if profile.pool_sizes == "off" else on_miss(profile.pool_sizes)
    else:
        status = Status.PASS
    return _check(
        "sizes",
        "pool sizes",
        status,
        measured,
        f"MIN <= MAX; profile: {spec[0]} / {spec[1]} / Redis {spec[2]}",
        "set PGPOOL_MIN_CONNECTIONS <= PGPOOL_MAX_CONNECTIONS (spec: 10 / 50, Redis 20)",
    )


def _usage(demand: int, limit: int, alert_pct: float) -> Status:
    if demand > limit:
        return Status.FAIL
    return Status.WARN if demand > limit * alert_pct / 100 else Status.PASS


def _pg_budget(inputs: PoolInputs, profile: PoolsProfile) -> Check:
    limit = inputs.pg_max_connections or 0
    bouncer = inputs.pgbouncer
    if bouncer is not None and bouncer.reachable:
        pool, source = bouncer.server_connections, "PgBouncer server pools"
    else:
        pool = inputs.instances * inputs.pgpool_max
        source = f"{inputs.instances} instances x PGPOOL_MAX {inputs.pgpool_max}"
    demand = pool + inputs.pg_reserved + profile.reserved_connections
    return _check(
        "pg_connections",
        "PostgreSQL connection budget",
        _usage(demand, limit, profile.alert_pct),
        f"{demand} = {source} ({pool}) + superuser reserved {inputs.pg_reserved} "
        f"+ reserved {profile.reserved_connections}; max_connections {limit} "
        f"({demand * 100 / max(limit, 1):.0f} %)",
        f"<= {profile.alert_pct:g} % of max_connections (the spec's alert)",
        f"raise max_connections to >= {int(demand * 100 / profile.alert_pct) + 1}, "
        "or lower the pools / put PgBouncer in front",
    )


def _guidance(inputs: PoolInputs, profile: PoolsProfile) -> Check:
    guidance = inputs.pg_cores * 2 + profile.spindles
    bouncer = inputs.pgbouncer
    if bouncer is not None and bouncer.reachable:
        active, what = bouncer.server_connections, "PgBouncer server connections"
    else:
        active, what = inputs.instances * inputs.pgpool_max, "direct app connections"
    ok = active <= guidance * profile.guidance_slack
    return _check(
        "guidance",
        "active connections vs (cores x 2) + spindles",
        Status.PASS if ok else Status.WARN,
        f"{active} {what}; guidance {guidance} ({inputs.pg_cores} cores x 2 + {profile.spindles})",
        f"<= {guidance * profile.guidance_slack:g} ({profile.guidance_slack:g}x the guidance)",
        f"put PgBouncer (transaction mode) in front with default_pool_size about {guidance}",
    )


def _redis_budget(inputs: PoolInputs, profile: PoolsProfile) -> Check:
    limit = inputs.redis_maxclients or 0
    demand = inputs.instances * inputs.redis_max_connections + profile.redis_reserved_clients
    return _check(
        "redis_clients",
        "Redis client budget",
        _usage(demand, limit, profile.alert_pct),
        f"{demand} = {inputs.instances} x REDIS_MAX {inputs.redis_max_connections} "
        f"+ {profile.redis_reserved_clients} reserved; maxclients {limit}",
        f"<= {profile.alert_pct:g} % of maxclients",
        f"raise maxclients to >= {int(demand * 100 / profile.alert_pct) + 1} in redis.conf",
    )


def _bouncer_checks(
    inputs: PoolInputs, bouncer: PgBouncerFacts, profile: PoolsProfile
) -> list[Check]:
    if not bouncer.reachable:
        return [
            _check(
                "pgbouncer",
                "PgBouncer admin console",
                Status.FAIL,
                bouncer.error,
                "SHOW CONFIG answers",
                "check the admin console URL and admin_users",
            )
        ]
    clients = inputs.instances * inputs.pgpool_max
    checks = [
        _check(
            "pgbouncer_clients",
            "PgBouncer max_client_conn",
            _usage(clients, bouncer.max_client_conn, profile.alert_pct),
            f"{clients} app connections; max_client_conn {bouncer.max_client_conn}",
            f"<= {profile.alert_pct:g} % of max_client_conn",
            f"set max_client_conn >= {int(clients * 100 / profile.alert_pct) + 1} in pgbouncer.ini",
        )
    ]
    if profile.prepared_statements != "off":
        checks.append(_prepared(bouncer, profile))
    return checks


def _prepared(bouncer: PgBouncerFacts, profile: PoolsProfile) -> Check:
    safe = bouncer.pool_mode != "transaction" or (bouncer.max_prepared_statements or 0) > 0
    supported = (
        "unsupported (PgBouncer < 1.21)"
        if bouncer.max_prepared_statements is None
        else str(bouncer.max_prepared_statements)
    )
    return _check(
        "prepared_statements",
        "transaction pooling vs prepared statements",
        Status.PASS if safe else on_miss(profile.prepared_statements),
        f"pool_mode {bouncer.pool_mode}, max_prepared_statements {supported}",
        "session mode, or max_prepared_statements > 0 with transaction mode",
        "in node-postgres drop `name:` from queries (named statements break under transaction "
        "pooling), or PgBouncer >= 1.21 with max_prepared_statements = 200",
    )
