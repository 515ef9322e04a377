"""Environment: ``DATABASE_URL`` / ``REDIS_URL`` present and parseable. Passwords never shown."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from vendzz_migrate.preflight.model import Area, Check, Status, make_check, on_miss
from vendzz_migrate.preflight.profile import EnvironmentProfile
from vendzz_migrate.urls import mask

_SCHEMES = {
    "DATABASE_URL": ("postgresql", "postgres"),
    "REDIS_URL": ("redis", "rediss", "unix"),
}


def parse_problem(name: str, url: str) -> str:
    """Why ``url`` is not a usable value for ``name``; empty when it is fine."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in _SCHEMES[name]:
        return f"scheme {parts.scheme or '(none)'!r} is not one of {', '.join(_SCHEMES[name])}"
    if parts.scheme != "unix" and not parts.hostname and "host=" not in parts.query:
        return "no host"
    if name == "DATABASE_URL":
        return _pg_problem(url)
    return "" if port is None or 0 < port < 65536 else f"bad port {port}"


def _pg_problem(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.errors import ProgrammingError

    try:
        info = conninfo_to_dict(url)
    except ProgrammingError as exc:
        return f"libpq cannot parse it ({str(exc).splitlines()[0]})"
    return "" if info.get("dbname") else "no database name in the path"


def environment_checks(environ: Mapping[str, str], profile: EnvironmentProfile) -> list[Check]:
    checks = []
    for name in _SCHEMES:
        value = environ.get(name, "")
        if not value:
            status, measured = on_miss(profile.require), "not set"
        else:
            problem = parse_problem(name, value)
            status = Status.FAIL if problem else Status.PASS
            measured = f"{mask(value)}" + (f": {problem}" if problem else "")
        expected = f"set to a {_SCHEMES[name][0]}:// URL the app can parse"
        remedy = f"export {name}=... in the app's environment (see provision's .env)"
        checks.append(
            make_check(Area.ENVIRONMENT, name.lower(), name, status, measured, expected, remedy)
        )
    return checks
