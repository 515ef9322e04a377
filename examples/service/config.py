"""The service's configuration: the spec's environment variables, plus a few ``VENDZZ_*`` ones."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vendzz_migrate.errors import ConfigError

DEFAULT_PORT = 5000  # PRODUCTION-SPEC: three app servers on port 5000
MAINTENANCE_KEY = "vendzz:maintenance"


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below {minimum}")
    return value


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service reads from its environment, validated once at start."""

    database_url: str
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    pool_min: int = 10  # PGPOOL_MIN_CONNECTIONS
    pool_max: int = 50  # PGPOOL_MAX_CONNECTIONS
    pool_idle_s: int = 30
    connect_timeout_s: int = 10
    redis_max_connections: int = 20  # REDIS_MAX_CONNECTIONS
    redis_retry_delay_ms: int = 100
    redis_max_retries: int = 3
    schema: str | None = None  # VENDZZ_SCHEMA (PostgreSQL; else the URL's search_path, public)
    state_schema: str = "vendzz_migrate"
    mapping_file: Path | None = None  # VENDZZ_MAPPING: the mapping the copy used
    maintenance_file: Path | None = None  # VENDZZ_MAINTENANCE_FILE
    # VENDZZ_MAINTENANCE_KEY: the Redis key that turns maintenance on ("off": none)
    maintenance_key: str | None = MAINTENANCE_KEY
    login_limit: int = 10  # VENDZZ_LOGIN_LIMIT attempts per window and e-mail
    login_window_s: int = 60  # VENDZZ_LOGIN_WINDOW_S
    secret: str = field(default="vendzz-dev-secret", repr=False)  # VENDZZ_SECRET (tokens)
    sqlite_busy_timeout_ms: int = 5000
    health_timeout_s: float = 2.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServiceConfig:
        env = dict(os.environ if env is None else env)
        url = env.get("DATABASE_URL", "").strip()
        if not url:
            raise ConfigError("DATABASE_URL is not set (sqlite:///vendzz.db or postgresql://...)")
        if not url.startswith(("sqlite", "postgresql", "postgres:")):
            raise ConfigError("DATABASE_URL must be sqlite:///FILE or postgresql://...")
        mapping = env.get("VENDZZ_MAPPING", "").strip()
        maint = env.get("VENDZZ_MAINTENANCE_FILE", "").strip()
        key = env.get("VENDZZ_MAINTENANCE_KEY", "").strip() or MAINTENANCE_KEY
        return cls(
            database_url=url,
            redis_url=env.get("REDIS_URL", "").strip() or None,
            host=env.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=_int(env, "PORT", DEFAULT_PORT, 1),
            pool_min=_int(env, "PGPOOL_MIN_CONNECTIONS", 10, 0),
            pool_max=_int(env, "PGPOOL_MAX_CONNECTIONS", 50, 1),
            redis_max_connections=_int(env, "REDIS_MAX_CONNECTIONS", 20, 1),
            schema=env.get("VENDZZ_SCHEMA", "").strip() or None,
            mapping_file=Path(mapping) if mapping else None,
            maintenance_file=Path(maint) if maint else None,
            maintenance_key=None if key == "off" else key,
            login_limit=_int(env, "VENDZZ_LOGIN_LIMIT", 10, 1),
            login_window_s=_int(env, "VENDZZ_LOGIN_WINDOW_S", 60, 1),
            secret=env.get("VENDZZ_SECRET", "") or "vendzz-dev-secret",
            sqlite_busy_timeout_ms=_int(env, "VENDZZ_SQLITE_BUSY_TIMEOUT_MS", 5000, 0),
        )
