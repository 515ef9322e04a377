"""Check profiles: YAML files validated by pydantic (an unknown field is an error naming it).

A profile is a name of a packaged profile (``production-1000``, ``staging``, ``dev``, shipped in
``vendzz_migrate/preflight/profiles/``; the repository's ``checks/`` holds the same files) or the
path of a team's own YAML file. preflight checks against it; provision renders from it.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.modelfile import from_yaml


def _yaml_off(value: object) -> object:
    """YAML 1.1 reads a bare ``off`` as false: accept it as the level ``off``."""
    return "off" if value is False else value


#: fail: a miss fails the check; warn: a miss only warns; off: the check is not run
Level = Annotated[Literal["fail", "warn", "off"], BeforeValidator(_yaml_off)]

PACKAGED = ("production-1000", "staging", "dev")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Floor(_Strict):
    """Higher is better: below ``min`` fails, below ``recommended`` warns."""

    min: float | None = None
    recommended: float | None = None


class Ceiling(_Strict):
    """Lower is better: above ``fail_above`` fails, above ``warn_above`` warns."""

    warn_above: float | None = None
    fail_above: float | None = None


class AppServer(_Strict):
    host: str
    port: int = Field(default=5000, ge=1, le=65535)
    weight: int = Field(default=1, ge=1)


class AppProfile(_Strict):
    servers: list[AppServer] = Field(min_length=1)

    @property
    def instances(self) -> int:
        return len(self.servers)


class HostProfile(_Strict):
    cores: Floor
    ram_gb: Floor
    disk_free_gb: Floor
    ssd: Level = "fail"
    nic_mbps: Floor = Floor()
    nic: Level = "warn"


class Role(StrEnum):
    """The machine preflight runs on: an app server, the PostgreSQL machine or a Redis node."""

    APP = "app"
    POSTGRES = "postgres"
    REDIS = "redis"


class RoleHost(_Strict):
    host: HostProfile


class RolesProfile(_Strict):
    """Host minimums of the database machines (the app servers' are the top-level ``host``)."""

    postgres: RoleHost | None = None
    redis: RoleHost | None = None


class PoolsProfile(_Strict):
    pgpool_min: int = Field(ge=0)
    pgpool_max: int = Field(ge=1)
    redis_max_connections: int = Field(ge=1)
    reserved_connections: int = Field(default=5, ge=0)
    alert_pct: float = Field(default=80, gt=0, le=100)
    spindles: int = Field(default=0, ge=0)
    guidance_slack: float = Field(default=2.0, ge=1)
    redis_reserved_clients: int = Field(default=10, ge=0)
    pool_sizes: Level = "warn"
    prepared_statements: Level = "warn"


class PostgresProfile(_Strict):
    min_version: int = Field(default=14, ge=9)
    ram_gb: float = Field(gt=0)
    cores: int = Field(ge=1)
    latency_ms: Ceiling = Ceiling(warn_above=5, fail_above=50)
    encoding: str = "UTF8"
    tuning: Level = "warn"
    disk_factor: float = Field(default=3.0, ge=1)
    disk: Level = "fail"


class RedisProfile(_Strict):
    min_version: str = "6.2"
    latency_ms: Ceiling = Ceiling(warn_above=5, fail_above=50)
    aof: Level = "fail"
    rdb: Level = "fail"
    appendfsync: str = "everysec"
    maxmemory_gb: Floor = Floor()
    maxmemory_policies: list[str] = Field(default_factory=lambda: ["noeviction"])
    memory: Level = "warn"
    nodes: int = Field(default=1, ge=1)
    ha: Level = "warn"
    kernel: Level = "warn"
    bind: str = "127.0.0.1"
    port: int = Field(default=6379, ge=1, le=65535)
    dir: str = "/var/lib/redis"


class SqliteProfile(_Strict):
    wal: Level = "fail"
    integrity: Level = "fail"
    orphans: Level = "fail"
    census: Level = "warn"
    quick_check_above_mb: float = Field(default=1024, ge=0)
    wal_warn_mb: float = Field(default=256, ge=0)
    census_rows: int = Field(default=1_000_000, ge=1)


class EnvironmentProfile(_Strict):
    require: Level = "fail"


class PgBouncerProfile(_Strict):
    host: str = "127.0.0.1"
    listen_addr: str = "127.0.0.1"
    listen_port: int = Field(default=6432, ge=1, le=65535)
    pool_mode: Literal["session", "transaction", "statement"] = "transaction"
    auth_type: Literal["scram-sha-256", "md5"] = "scram-sha-256"
    auth_file: str = "/etc/pgbouncer/userlist.txt"
    reserve_pool_size: int = Field(default=5, ge=0)


class Targets(_Strict):
    uptime_pct: float = 99.9
    p95_ms: float = 500
    throughput_rps: float = 1000
    error_rate_pct: float = 0.1
    cache_hit_pct: float = 85


class Alerts(_Strict):
    cpu_pct: float = 80
    cpu_for: str = "5m"
    ram_pct: float = 85
    ram_for: str = "2m"
    db_connections_pct: float = 80
    db_connections_for: str = "1m"
    error_rate_pct: float = 1
    error_rate_for: str = "1m"
    response_time_s: float = 2
    response_time_for: str = "30s"


class Profile(_Strict):
    name: str
    description: str = ""
    app: AppProfile
    host: HostProfile
    roles: RolesProfile = RolesProfile()
    pools: PoolsProfile
    postgres: PostgresProfile
    redis: RedisProfile
    sqlite: SqliteProfile = SqliteProfile()
    environment: EnvironmentProfile = EnvironmentProfile()
    pgbouncer: PgBouncerProfile = PgBouncerProfile()
    targets: Targets = Targets()
    alerts: Alerts = Alerts()

    @model_validator(mode="after")
    def _pool_order(self) -> Profile:
        if self.pools.pgpool_min > self.pools.pgpool_max:
            raise ValueError("pools.pgpool_min is greater than pools.pgpool_max")
        return self

    def host_minimums(self, role: Role) -> HostProfile:
        """The host minimums of a machine role: ``host`` (app) or ``roles.<role>.host``."""
        if role is Role.APP:
            return self.host
        entry: RoleHost | None = getattr(self.roles, role.value)
        if entry is None:
            raise ConfigError(
                f"profile {self.name}: no roles.{role.value}.host minimums to check the "
                f"{role.value} machine against (add them; see checks/production-1000.yaml)",
                field=f"roles.{role.value}.host",
            )
        return entry.host


def packaged_text(name: str) -> str:
    """The text of a packaged profile (``production-1000``...)."""
    ref = resources.files("vendzz_migrate.preflight") / "profiles" / f"{name}.yaml"
    return ref.read_text(encoding="utf-8")


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a packaged profile by name, or a YAML file by path; errors name the field."""
    text, where = _read(str(name_or_path))
    return from_yaml(Profile, text, f"profile {where}")


def _read(name_or_path: str) -> tuple[str, str]:
    if name_or_path in PACKAGED:
        return packaged_text(name_or_path), name_or_path
    path = Path(name_or_path)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"profile {path}: cannot read: {exc}") from None
    known = ", ".join(PACKAGED)
    raise ConfigError(f"no profile named or at {name_or_path!r} (packaged: {known})")
