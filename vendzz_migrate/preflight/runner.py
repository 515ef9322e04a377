"""preflight.run: choose the areas, read what they need, run their checks, return one report.

Each area is one function of :data:`AREAS` taking the run's :class:`Context`; the readings
(host, SQLite source, PostgreSQL, Redis, PgBouncer) are read at most once, and only when an area
that needs them runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import Field

from vendzz_migrate import events
from vendzz_migrate.errors import ConfigError, PreflightFailed, SourceError
from vendzz_migrate.options import CommandOptions
from vendzz_migrate.preflight.areas import choose_areas, require_or_skip
from vendzz_migrate.preflight.environment import environment_checks
from vendzz_migrate.preflight.host import (
    HostFacts,
    host_checks,
    read_host_facts,
    work_dir_check,
)
from vendzz_migrate.preflight.model import Area, Check, PreflightReport, skip_check
from vendzz_migrate.preflight.pools import PoolInputs, pool_checks, read_pgbouncer_facts
from vendzz_migrate.preflight.postgres import PgFacts, postgres_checks, read_pg_facts
from vendzz_migrate.preflight.profile import Profile, Role, load_profile
from vendzz_migrate.preflight.redis_server import RedisFacts, read_redis_facts, redis_checks
from vendzz_migrate.preflight.sqlite_source import SqliteFacts, read_sqlite_facts, sqlite_checks
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask

_MACHINE = {
    Role.APP: "the app server",
    Role.POSTGRES: "the PostgreSQL machine",
    Role.REDIS: "the Redis node",
}


class PreflightOptions(CommandOptions):
    """preflight's options (the shared ones: :class:`CommandOptions`; ``source`` is the SQLite
    file to check, if any).

    ``role`` (app, postgres, redis) picks the host minimums and the areas that make sense there;
    ``only`` / ``skip`` narrow the areas further; every area not run is listed as skipped.
    ``target_url`` / ``redis_url`` / ``pgbouncer_admin_url`` name the servers; ``host``
    replaces the readings of this machine (tests, remote hosts); ``environ`` is what the
    environment checks look at (default: ``os.environ``).
    """

    redis_url: str | None = None
    pgbouncer_admin_url: str | None = None
    pgpool_min_connections: int = 10
    pgpool_max_connections: int = 50
    redis_max_connections: int = 20
    profile: str | Path | Profile = "production-1000"
    role: Role = Role.APP
    only: list[Area] = Field(default_factory=list)
    skip: list[Area] = Field(default_factory=list)
    app_instances: int | None = None
    strict: bool = False
    host: HostFacts | None = None
    environ: dict[str, str] | None = None


def run(opts: PreflightOptions, on_event: events.Sink = events.discard) -> PreflightReport:
    """Check the machine of ``opts.role`` and what it can reach against a profile; return the
    report when the gate passes, raise :class:`PreflightFailed` (carrying it) when a check
    failed (or warned, with ``strict``). Raises ConfigError (bad profile, an area asked for
    that cannot run) or SourceError (unreadable source). Each area run is a note."""
    started = time.monotonic()
    prof = opts.profile if isinstance(opts.profile, Profile) else load_profile(opts.profile)
    settings = opts.settings()
    ctx = Context(settings, prof, opts.role, opts.source, opts.app_instances, opts.host)
    ctx.environ = opts.environ
    areas, skipped = _areas(ctx, set(opts.only), set(opts.skip))
    ctx.areas = set(areas)
    if Area.SQLITE in ctx.areas:
        _ = ctx.sqlite  # an unreadable source stops the run before any server is contacted
    checks = [skip_check(a, "skipped", "area not run", why) for a, why in skipped.items()]
    for area in areas:
        events.debug(on_event, f"preflight: {area.value}", area=area.value)
        checks += AREAS[area](ctx)
    checks.sort(key=lambda c: list(Area).index(c.area))
    report = PreflightReport(
        profile=prof.name,
        role=ctx.role,
        machine=ctx.facts.hostname or socket.gethostname(),
        strict=opts.strict,
        checks=checks,
        skipped_areas=skipped,
        servers=_servers_shown(settings, opts.source),
        duration_s=round(time.monotonic() - started, 3),
    )
    if not report.passed:
        strict = " (strict)" if report.strict else ""
        raise PreflightFailed(f"preflight failed: {report.counts()}{strict}", report)
    return report


@dataclass
class Context:
    """One run: its inputs, and each reading read once, on first use."""

    settings: Settings
    prof: Profile
    role: Role
    source: Path | None
    app_instances: int | None = None
    injected_host: HostFacts | None = None
    environ: Mapping[str, str] | None = None
    areas: set[Area] = field(default_factory=set)

    @cached_property
    def facts(self) -> HostFacts:
        return self.injected_host or read_host_facts(self.data_path())

    def data_path(self) -> Path:
        """Where this machine's data lives: the server's own directory on a database machine
        (PostgreSQL's data_directory, Redis' dir, when readable here), else the work dir."""
        found = None
        if self.role is Role.POSTGRES and self.pg is not None:
            found = self.pg.data_directory
        elif self.role is Role.REDIS and self.rd is not None:
            found = self.rd.dir
        if found and Path(found).is_dir():
            return Path(found)
        return self.settings.work_dir

    @cached_property
    def sqlite(self) -> SqliteFacts | None:
        if self.source is None or Area.SQLITE not in self.areas:
            return None
        return read_sqlite_facts(self.source, self.prof.sqlite)

    @cached_property
    def source_bytes(self) -> int | None:
        """Size of the source and its -wal (what the PostgreSQL disk check sizes the copy by)."""
        if self.sqlite is not None:
            return self.sqlite.size_bytes + self.sqlite.wal_bytes
        if self.source is None:
            return None
        try:
            wal = Path(f"{self.source}-wal")
            return self.source.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        except OSError as exc:
            raise SourceError(f"cannot read {self.source}: {exc.strerror}") from None

    @cached_property
    def pg(self) -> PgFacts | None:
        url, s = self.settings.database_url, self.settings
        return read_pg_facts(url, s.schema_name, s.connect_timeout_s) if url else None

    @cached_property
    def rd(self) -> RedisFacts | None:
        url = self.settings.redis_url
        return read_redis_facts(url, self.settings.connect_timeout_s) if url else None

    def pg_machine(self) -> tuple[int, int]:
        """RAM and cores of the PostgreSQL machine: this host when it is it, else the profile's."""
        if self.role is Role.POSTGRES or (self.pg is not None and self.pg.local):
            return self.facts.ram_bytes, self.facts.cores
        return int(self.prof.postgres.ram_gb * 1024**3), self.prof.postgres.cores


def _areas(ctx: Context, only: set[Area], skip: set[Area]) -> tuple[list[Area], dict[Area, str]]:
    """The role's areas minus --only / --skip, then minus those whose server was not given."""
    areas, skipped = choose_areas(ctx.role, only, skip)
    missing = {
        Area.POSTGRES: "no PostgreSQL URL was given (--target or DATABASE_URL)"
        if not ctx.settings.database_url
        else "",
        Area.REDIS: "no Redis URL was given (--redis or REDIS_URL)"
        if not ctx.settings.redis_url
        else "",
        Area.SQLITE: "no SQLite file was given (--source)" if ctx.source is None else "",
    }
    for area in [a for a in areas if missing.get(a)]:
        skipped[area] = require_or_skip(area, missing[area], role=ctx.role, only=only)
        areas.remove(area)
    if not areas:
        raise ConfigError(f"nothing left to check for role {ctx.role.value}: every area is skipped")
    return areas, dict(sorted(skipped.items(), key=lambda kv: list(Area).index(kv[0])))


def _environment(ctx: Context) -> list[Check]:
    environ = os.environ if ctx.environ is None else ctx.environ
    return environment_checks(environ, ctx.prof.environment)


def _host(ctx: Context) -> list[Check]:
    checks = host_checks(ctx.facts, ctx.prof.host_minimums(ctx.role), machine=_MACHINE[ctx.role])
    if ctx.role is Role.APP:  # the copy's work dir (its snapshots) lives on the app server
        checks.append(work_dir_check(ctx.settings.work_dir))
    return checks


def _postgres(ctx: Context) -> list[Check]:
    assert ctx.pg is not None and ctx.settings.database_url  # _areas skipped it otherwise
    ram, cores = ctx.pg_machine()
    return postgres_checks(
        ctx.pg,
        ctx.prof.postgres,
        url=ctx.settings.database_url,
        ram_bytes=ram,
        cores=cores,
        source_bytes=ctx.source_bytes,
    )


def _redis(ctx: Context) -> list[Check]:
    assert ctx.rd is not None and ctx.settings.redis_url  # _areas skipped it otherwise
    this_host = ctx.facts if ctx.role is Role.REDIS else None
    return redis_checks(ctx.rd, ctx.prof.redis, url=ctx.settings.redis_url, host=this_host)


def _pools(ctx: Context) -> list[Check]:
    """Pool sizes against the servers given (read even when their own areas are skipped)."""
    s, pg, rd = ctx.settings, ctx.pg, ctx.rd
    bouncer = None
    if s.pgbouncer_admin_url:
        bouncer = read_pgbouncer_facts(s.pgbouncer_admin_url, s.connect_timeout_s)
    pg_up = pg if pg is not None and pg.reachable else None
    inputs = PoolInputs(
        instances=ctx.app_instances or ctx.prof.app.instances,
        pgpool_min=s.pgpool_min_connections,
        pgpool_max=s.pgpool_max_connections,
        redis_max_connections=s.redis_max_connections,
        pg_max_connections=pg_up.max_connections if pg_up else None,
        pg_reserved=pg_up.reserved if pg_up else 0,
        redis_maxclients=rd.maxclients if rd is not None and rd.reachable else None,
        pg_cores=ctx.pg_machine()[1],
        pgbouncer=bouncer,
    )
    return pool_checks(inputs, ctx.prof.pools)


def _sqlite(ctx: Context) -> list[Check]:
    assert ctx.sqlite is not None  # _areas skipped it otherwise
    return sqlite_checks(ctx.sqlite, ctx.prof.sqlite)


#: one function per area; a new area is one entry here and one in ``model.Area``
AREAS: dict[Area, Callable[[Context], list[Check]]] = {
    Area.ENVIRONMENT: _environment,
    Area.HOST: _host,
    Area.POOLS: _pools,
    Area.POSTGRES: _postgres,
    Area.REDIS: _redis,
    Area.SQLITE: _sqlite,
}


def _servers_shown(settings: Settings, source: Path | None) -> dict[str, str]:
    shown = {
        "postgres": mask(settings.database_url) or "(not given)",
        "redis": mask(settings.redis_url) or "(not given)",
        "source": str(source) if source else "(not given)",
    }
    if settings.pgbouncer_admin_url:
        shown["pgbouncer"] = mask(settings.pgbouncer_admin_url)
    return shown
