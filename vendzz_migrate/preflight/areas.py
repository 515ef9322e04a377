"""Which areas a preflight run checks: the machine's role, then ``--only`` / ``--skip``.

Every area left out gets a reason, so the report lists it as skipped instead of leaving it out.
"""

from __future__ import annotations

from collections.abc import Iterable

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.preflight.model import Area
from vendzz_migrate.preflight.profile import Role

#: the areas that make sense on each machine
ROLE_AREAS: dict[Role, tuple[Area, ...]] = {
    Role.APP: tuple(Area),
    Role.POSTGRES: (Area.HOST, Area.POSTGRES),
    Role.REDIS: (Area.HOST, Area.REDIS),
}

#: why an area is not run on a machine of another role
_ELSEWHERE: dict[Area, str] = {
    Area.ENVIRONMENT: "DATABASE_URL / REDIS_URL are the app's, set on the app servers",
    Area.HOST: "",
    Area.POOLS: "the app's pools are checked with --role app or over the network",
    Area.POSTGRES: "checked with --role postgres on its machine, or over the network",
    Area.REDIS: "checked with --role redis on its nodes, or over the network",
    Area.SQLITE: "the SQLite source lives on the app server",
}


def parse_areas(values: Iterable[str]) -> set[Area]:
    """Area names, repeated or comma-separated (``host,pools``); ValueError names a bad one."""
    found: set[Area] = set()
    for value in values:
        for name in filter(None, (part.strip().lower() for part in value.split(","))):
            try:
                found.add(Area(name))
            except ValueError:
                known = ", ".join(a.value for a in Area)
                raise ValueError(f"unknown area {name!r} (areas: {known})") from None
    return found


def choose_areas(
    role: Role, only: Iterable[Area] = (), skip: Iterable[Area] = ()
) -> tuple[list[Area], dict[Area, str]]:
    """The areas to run, in report order, and why each other area is not run.

    An area named by ``--only`` that the role cannot check is a ConfigError, not a silent skip.
    """
    only, skip = set(only), set(skip)
    foreign = sorted(only - set(ROLE_AREAS[role]))
    if foreign:
        raise ConfigError(f"--only {foreign[0].value}: {not_for_role(role, foreign[0])}")
    run: list[Area] = []
    skipped: dict[Area, str] = {}
    for area in Area:
        if area not in ROLE_AREAS[role]:
            skipped[area] = not_for_role(role, area)
        elif only and area not in only:
            skipped[area] = "not chosen (--only " + ",".join(sorted(a.value for a in only)) + ")"
        elif area in skip:
            skipped[area] = f"left out (--skip {area.value})"
        else:
            run.append(area)
    return run, skipped


def not_for_role(role: Role, area: Area) -> str:
    return f"not run for role {role.value}: {_ELSEWHERE[area]}"


def require_or_skip(area: Area, missing: str, *, role: Role, only: set[Area]) -> str:
    """The skip reason for an area whose server or file was not given; a ConfigError when the
    area was asked for (``--only``) or is the role's own (``--role postgres`` without a URL)."""
    if area in only or area.value == role.value:
        asked = f"--only {area.value}" if area in only else f"--role {role.value}"
        raise ConfigError(f"{asked}: {missing}")
    return f"not run: {missing}"
