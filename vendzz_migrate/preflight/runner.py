"""preflight.run: read every reading, run every check, return one :class:`PreflightReport`."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from vendzz_migrate.preflight.environment import environment_checks
from vendzz_migrate.preflight.host import (
    HostFacts,
    host_checks,
    read_host_facts,
    work_dir_check,
)
from vendzz_migrate.preflight.model import Check, PreflightReport
from vendzz_migrate.preflight.pools import PoolInputs, pool_checks, read_pgbouncer_facts
from vendzz_migrate.preflight.postgres import PgFacts, postgres_checks, read_pg_facts
from vendzz_migrate.preflight.profile import Profile, load_profile
from vendzz_migrate.preflight.redis_server import RedisFacts, read_redis_facts, redis_checks
from vendzz_migrate.preflight.sqlite_source import read_sqlite_facts, sqlite_checks
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask


def run(
    settings: Settings,
    profile: str | Path | Profile | None = None,
    source: Path | None = None,
    *,
    app_instances: int | None = None,
    strict: bool = False,
    host: HostFacts | None = None,
    environ: Mapping[str, str] | None = None,
) -> PreflightReport:
    """Check this machine, the pools, PostgreSQL, Redis and the SQLite source against a profile.

    ``settings.database_url`` / ``redis_url`` / ``pgbouncer_admin_url`` name the servers (a missing
    one skips its area); ``host`` replaces the readings of this machine (tests, remote hosts);
    ``environ`` is what the environment checks look at (default: ``os.environ``).
    Raises ConfigError (bad profile) or SourceError (unreadable source); failed checks never raise.
    """
    started = time.monotonic()
    prof = (
        profile
        if isinstance(profile, Profile)
        else load_profile(profile or settings.preflight_profile)
    )
    facts = host or read_host_facts(settings.work_dir)
    checks = environment_checks(os.environ if environ is None else environ, prof.environment)
    checks += host_checks(facts, prof.host)
    checks.append(work_dir_check(settings.work_dir))
    pg, rd, more = _servers(settings, prof, facts, source)
    checks += _pools(settings, prof, facts, pg, rd, app_instances=app_instances) + more
    return PreflightReport(
        profile=prof.name,
        strict=strict,
        checks=checks,
        servers=_servers_shown(settings, source),
        duration_s=round(time.monotonic() - started, 3),
    )


def _servers(
    settings: Settings, prof: Profile, facts: HostFacts, source: Path | None
) -> tuple[PgFacts | None, RedisFacts | None, list[Check]]:
    checks: list[Check] = []
    size = None
    if source is not None:
        sq = read_sqlite_facts(source, prof.sqlite)
        size = sq.size_bytes + sq.wal_bytes
        sqlite = sqlite_checks(sq, prof.sqlite)
    pg = rd = None
    if settings.database_url:
        pg = read_pg_facts(settings.database_url, settings.schema_name, settings.connect_timeout_s)
        ram, cores = _pg_machine(pg, prof, facts)
        checks += postgres_checks(
            pg,
            prof.postgres,
            url=settings.database_url,
            ram_bytes=ram,
            cores=cores,
            source_bytes=size,
        )
    if settings.redis_url:
        rd = read_redis_facts(settings.redis_url, settings.connect_timeout_s)
        checks += redis_checks(rd, prof.redis, url=settings.redis_url, host=facts)
    if source is not None:
        checks += sqlite
    return pg, rd, checks


def _pg_machine(pg: PgFacts, prof: Profile, facts: HostFacts) -> tuple[int, int]:
    """RAM and cores of the PostgreSQL machine: this host when local, else the profile's."""
    if pg.local:
        return facts.ram_bytes, facts.cores
    return int(prof.postgres.ram_gb * 1024**3), prof.postgres.cores


def _pools(
    settings: Settings,
    prof: Profile,
    facts: HostFacts,
    pg: PgFacts | None,
    rd: RedisFacts | None,
    *,
    app_instances: int | None,
) -> list[Check]:
    bouncer = None
    if settings.pgbouncer_admin_url:
        bouncer = read_pgbouncer_facts(settings.pgbouncer_admin_url, settings.connect_timeout_s)
    pg_up = pg is not None and pg.reachable
    inputs = PoolInputs(
        instances=app_instances or prof.app.instances,
        pgpool_min=settings.pgpool_min_connections,
        pgpool_max=settings.pgpool_max_connections,
        redis_max_connections=settings.redis_max_connections,
        pg_max_connections=pg.max_connections if pg_up and pg else None,
        pg_reserved=pg.reserved if pg_up and pg else 0,
        redis_maxclients=rd.maxclients if rd is not None and rd.reachable else None,
        pg_cores=_pg_machine(pg, prof, facts)[1] if pg is not None else prof.postgres.cores,
        pgbouncer=bouncer,
    )
    return pool_checks(inputs, prof.pools)


def _servers_shown(settings: Settings, source: Path | None) -> dict[str, str]:
    shown = {
        "postgres": mask(settings.database_url) or "(not given)",
        "redis": mask(settings.redis_url) or "(not given)",
        "source": str(source) if source else "(not given)",
    }
    if settings.pgbouncer_admin_url:
        shown["pgbouncer"] = mask(settings.pgbouncer_admin_url)
    return shown
