"""preflight as a library call for the tests: the report, whether the gate passed or not."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vendzz_migrate import preflight
from vendzz_migrate.errors import FleetFailed, PreflightFailed
from vendzz_migrate.preflight import FleetReport, PreflightOptions, PreflightReport, Profile
from vendzz_migrate.settings import Settings


def checked(
    settings: Settings,
    profile: str | Path | Profile | None = None,
    source: Path | None = None,
    **fields: Any,
) -> PreflightReport:
    """``preflight.run`` on options built from ``settings``; a failed gate's report too."""
    chosen = {"profile": profile} if profile is not None else {}
    opts = PreflightOptions.from_settings(settings, source=source, **chosen, **fields)
    try:
        return preflight.run(opts)
    except PreflightFailed as exc:
        return exc.report


def merged(paths: Iterable[Path], *, strict: bool = False) -> FleetReport:
    """``preflight.merge``; a failed fleet's report too."""
    try:
        return preflight.merge(paths, strict=strict)
    except FleetFailed as exc:
        return exc.report
