"""Opening a PostgreSQL connection: the URL checked first, the settings' timeout, an
``application_name`` per command, brief retries of transient failures, one session setup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vendzz_migrate import retry
from vendzz_migrate.errors import ConfigError
from vendzz_migrate.pg.failures import classify
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask, mask_bare, mask_text

if TYPE_CHECKING:
    import psycopg

#: the cutover's session (journal, delta syncs, rollback): what it commits must survive a server
#: crash (a final delta lost after the switch would be lost rows); values read as the copy's
DURABLE_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET extra_float_digits = 3",
)
#: the session of the copy and of everything that compares its values: the same, with
#: synchronous_commit off (safe: a unit's rows and its progress commit together)
LOAD_SESSION = (*DURABLE_SESSION, "SET synchronous_commit = off")
#: ``connect_timeout_s`` of the settings (``VENDZZ_CONNECT_TIMEOUT_S``) when none is passed
TIMEOUT_S: int = Settings.model_fields["connect_timeout_s"].default


def application_name(command: str, role: str | None = None) -> str:
    """What pg_stat_activity shows: ``vendzz-migrate:<command>[:<role>]``."""
    return f"vendzz-migrate:{command}" + (f":{role}" if role else "")


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
    url: str,
    *,
    command: str,
    role: str | None = None,
    autocommit: bool = False,
    timeout_s: int = TIMEOUT_S,
    session: Sequence[str] = (),
    attempts: int = 3,
    **options: Any,
) -> psycopg.Connection[Any]:
    """Connect as ``application_name`` ``vendzz-migrate:<command>[:<role>]`` (retrying only
    transient failures, ``attempts`` times within ``timeout_s``), then run ``session``'s
    statements (e.g. :data:`LOAD_SESSION`). Failures are raised as :func:`classify` maps them
    (a one-line, masked :class:`~vendzz_migrate.errors.VendzzError`). ``options`` go to
    ``psycopg.connect`` (``cursor_factory``...)."""
    import psycopg

    def attempt() -> psycopg.Connection[Any]:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=timeout_s,
            application_name=application_name(command, role),
            **options,
        )

    try:
        conn = retry.policy(attempts=attempts, budget_s=timeout_s)(attempt)
    except psycopg.Error as exc:
        raise classify(exc, url) from None
    try:
        for statement in session:
            conn.execute(statement)
        if session and not autocommit:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise classify(exc, url) from None
    return conn
