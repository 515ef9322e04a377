"""The PostgreSQL side: connections, DDL, COPY, constraints after the load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendzz_migrate import retry
from vendzz_migrate.errors import (
    CapacityError,
    ConfigError,
    ConnectionFailed,
    PermissionDenied,
    TargetError,
    VendzzError,
)
from vendzz_migrate.urls import mask, mask_bare, mask_text

if TYPE_CHECKING:
    import psycopg

LOAD_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET synchronous_commit = off",  # safe: a unit's rows and its progress commit together
    "SET extra_float_digits = 3",
)


def require_url(url: str | None) -> str:
    """The target URL, checked before any work: a bad one is a configuration error (4)."""
    if not url:
        raise ConfigError("no target: pass --target or set DATABASE_URL")
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise ConfigError(f"not a PostgreSQL URL: {mask_bare(url)}")
    _check_url(url)
    return url


def _check_url(url: str) -> None:
    """What libpq would refuse only when connecting (then reported as a server error)."""
    from urllib.parse import urlsplit

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        port = urlsplit(url).port if "://" in url else None
        conninfo_to_dict(url)
    except ValueError:
        raise ConfigError(
            f"invalid PostgreSQL URL {mask(url)}: bad port (an IPv6 host goes in"
            " brackets: postgresql://user@[::1]:5432/db)"
        ) from None
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"invalid PostgreSQL URL {mask(url)}: {mask_text(str(exc))}") from None
    if port == 0:
        raise ConfigError(f"invalid PostgreSQL URL {mask(url)}: port 0")


def connect(
    url: str, *, autocommit: bool = False, timeout_s: int = 10, role: str = "main"
) -> psycopg.Connection:
    """Connect (retrying only transient failures briefly); errors become one clear line.
    ``role`` shows in pg_stat_activity as application_name ``vendzz-migrate:<role>``."""
    import psycopg

    def attempt() -> psycopg.Connection:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=timeout_s,
            application_name=f"vendzz-migrate:{role}",
        )

    try:
        conn = retry.policy(attempts=3, budget_s=timeout_s)(attempt)
    except psycopg.Error as exc:
        raise classify(exc, url) from None
    for statement in LOAD_SESSION:
        conn.execute(statement)
    if not autocommit:
        conn.commit()
    return conn


def classify(exc: Exception, url: str | None = None) -> VendzzError:
    """Map a psycopg error to the project's error hierarchy, with a masked one-line message."""
    import psycopg
    from psycopg import errors as e

    text = mask_text((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    where = f" ({mask(url)})" if url else ""
    if isinstance(exc, e.InsufficientPrivilege):
        return PermissionDenied(f"PostgreSQL refused: {text}")
    if isinstance(exc, e.DiskFull | e.OutOfMemory):
        return CapacityError(f"PostgreSQL is out of space: {text}")
    if isinstance(exc, psycopg.OperationalError):
        if "password authentication failed" in text or "authentication" in text:
            return ConnectionFailed(f"authentication failed{where}: check the user and password")
        if isinstance(exc, e.AdminShutdown | e.CrashShutdown) or "closed the connection" in text:
            return ConnectionFailed(
                f"PostgreSQL ended the connection{where} (restarted or stopped?): {text}"
            )
        return ConnectionFailed(f"cannot reach PostgreSQL{where}: {text}")
    return TargetError(f"PostgreSQL error: {text}")
