"""What preflight returns: one :class:`Check` per thing checked, in a :class:`PreflightReport`."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from vendzz_migrate.errors import ExitCode
from vendzz_migrate.preflight.profile import Ceiling, Floor, Level, Role


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not run here, and why (an area left out, a check of another machine)


class Area(StrEnum):
    ENVIRONMENT = "environment"
    HOST = "host"
    POOLS = "pools"
    POSTGRES = "postgres"
    REDIS = "redis"
    SQLITE = "sqlite"


class Check(BaseModel):
    """One result: pass / warn / fail / skip, what was measured (for a skip: why it was not run),
    what was expected, how to fix it."""

    id: str
    area: Area
    title: str
    status: Status
    measured: str
    expected: str
    remedy: str = ""


class PreflightReport(BaseModel):
    profile: str
    role: Role = Role.APP
    machine: str = ""  # the hostname preflight ran on
    strict: bool = False
    checks: list[Check] = Field(default_factory=list)
    skipped_areas: dict[Area, str] = Field(default_factory=dict)  # area -> why it was not run
    servers: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0
    #: this run's own id: a file merged twice (or a copy of it) carries the same one, two runs
    #: of one machine never do (their checks may well be equal)
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    def counts(self) -> str:
        """``12 pass, 1 fail``: the statuses met, in order."""
        return ", ".join(f"{self.count(s)} {s.value}" for s in Status if self.count(s))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when the gate lets the pipeline go on (no failure; no warning with --strict)."""
        if self.count(Status.FAIL):
            return False
        return not (self.strict and self.count(Status.WARN))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.CHECK_FAILED

    def by_area(self) -> dict[Area, list[Check]]:
        groups: dict[Area, list[Check]] = {}
        for check in self.checks:
            groups.setdefault(check.area, []).append(check)
        return groups


def make_check(
    area: Area, cid: str, title: str, status: Status, measured: str, expected: str, remedy: str
) -> Check:
    """A :class:`Check` with id ``<area>.<cid>``."""
    return Check(
        id=f"{area.value}.{cid}",
        area=area,
        title=title,
        status=status,
        measured=measured,
        expected=expected,
        remedy=remedy,
    )


def skip_check(area: Area, cid: str, title: str, why: str, remedy: str = "") -> Check:
    """A check (a whole area with ``cid="skipped"``) not run here; ``measured`` says why."""
    return make_check(area, cid, title, Status.SKIP, why, "not run here", remedy)


def on_miss(level: Level) -> Status:
    """The status a miss gets under a profile level (``off`` checks are never built)."""
    return Status.FAIL if level == "fail" else Status.WARN


def _grade(
    value: float, fail: float | None, warn: float | None, beyond: Callable[[float, float], bool]
) -> Status:
    if fail is not None and beyond(value, fail):
        return Status.FAIL
    if warn is not None and beyond(value, warn):
        return Status.WARN
    return Status.PASS


def _bounds(*bounds: tuple[float | None, str], unit: str) -> str:
    """The bounds given, each as its ``text`` with ``{}`` the value: ``>= {} (minimum)``."""
    return ", ".join(text.format(f"{v:g}{unit}") for v, text in bounds if v is not None) or "any"


def floor_status(value: float, floor: Floor) -> Status:
    return _grade(value, floor.min, floor.recommended, operator.lt)


def floor_text(floor: Floor, unit: str = "") -> str:
    return _bounds(
        (floor.min, ">= {} (minimum)"), (floor.recommended, ">= {} (recommended)"), unit=unit
    )


def ceiling_status(value: float, ceiling: Ceiling) -> Status:
    return _grade(value, ceiling.fail_above, ceiling.warn_above, operator.gt)


def ceiling_text(ceiling: Ceiling, unit: str = "") -> str:
    return _bounds((ceiling.warn_above, "<= {}"), (ceiling.fail_above, "fails above {}"), unit=unit)


def gib(n_bytes: float) -> float:
    return n_bytes / 1024**3


def human_bytes(n_bytes: float) -> str:
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"
