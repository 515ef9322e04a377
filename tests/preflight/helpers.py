"""preflight as a library call for the tests: the report, whether the gate passed or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vendzz_migrate import preflight
from vendzz_migrate.errors import PreflightFailed
from vendzz_migrate.preflight import PreflightOptions, PreflightReport, Profile
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
