"""Several machines' preflight reports (their ``--json`` files) as one verdict for the fleet.

fleet = preflight.merge([Path("app-1.json"), Path("postgres.json"), Path("redis-1.json")])
fleet.passed, fleet.exit_code   # the worst of the reports' exit codes
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, computed_field

from vendzz_migrate.errors import ConfigError, ExitCode, FleetFailed
from vendzz_migrate.modelfile import first_error
from vendzz_migrate.preflight.model import PreflightReport


class MachineReport(BaseModel):
    """One machine's report, as read from ``file``; ``label`` names it in the merged views."""

    file: str
    label: str
    report: PreflightReport


class FleetReport(BaseModel):
    reports: list[MachineReport] = Field(default_factory=list)
    strict: bool = False  # --strict on the merge: warnings fail every report

    def exit_code_of(self, item: MachineReport) -> ExitCode:
        strict = item.report.strict or self.strict
        return item.report.model_copy(update={"strict": strict}).exit_code

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> ExitCode:
        """The worst exit code over the reports (CHECK_FAILED when any report failed)."""
        return max((self.exit_code_of(item) for item in self.reports), default=ExitCode.OK)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return self.exit_code is ExitCode.OK

    @property
    def failed(self) -> list[MachineReport]:
        return [item for item in self.reports if self.exit_code_of(item) is not ExitCode.OK]


def merge(paths: Iterable[Path], *, strict: bool = False) -> FleetReport:
    """Read preflight JSON reports into one verdict: returned when every machine passed,
    raised as :class:`FleetFailed` (carrying it) when one did not. A missing or foreign file,
    a report given twice (the same file, or a copy of it: a machine counted twice, or another
    machine's report missing), or reports of different profiles are a ConfigError naming them."""
    loaded = [(path, read_report(path)) for path in paths]
    if not loaded:
        raise ConfigError("--merge needs at least one report file (preflight --json FILE)")
    _refuse_repeats(loaded)
    _refuse_mixed_profiles(loaded)
    labels = Counter(_label(report) for _, report in loaded)
    items = [
        MachineReport(file=str(path), label=_label(report, path, labels), report=report)
        for path, report in loaded
    ]
    fleet = FleetReport(reports=items, strict=strict)
    if not fleet.passed:
        failed = ", ".join(item.label for item in fleet.failed)
        raise FleetFailed(f"fleet preflight failed ({failed})", fleet)
    return fleet


def _refuse_repeats(loaded: list[tuple[Path, PreflightReport]]) -> None:
    for i, (path, report) in enumerate(loaded):
        for first, earlier in loaded[:i]:
            if path.samefile(first):
                raise ConfigError(f"report {path} is given twice: merge each report once")
            if report == earlier:
                raise ConfigError(
                    f"report {path} holds the same report as {first} ({_label(report)}): "
                    "merge each machine's report once"
                )


def _refuse_mixed_profiles(loaded: list[tuple[Path, PreflightReport]]) -> None:
    """One bar for the fleet: a report checked against a laxer profile would pass the gate."""
    if len({report.profile for _, report in loaded}) > 1:
        which = ", ".join(f"{path.name}: {report.profile}" for path, report in loaded)
        raise ConfigError(
            f"reports checked against different profiles ({which}): merge reports of one profile"
        )


def _label(
    report: PreflightReport, path: Path | None = None, seen: Counter[str] | None = None
) -> str:
    """``machine/role``, plus the file name when two reports share it."""
    label = f"{report.machine or 'unknown'}/{report.role.value}"
    return f"{label}:{path.name}" if path and seen and seen[label] > 1 else label


def read_report(path: Path) -> PreflightReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"report {path}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"report {path}: not JSON ({exc})") from None
    try:
        return PreflightReport.model_validate(data)
    except ValidationError as exc:
        field, message, _ = first_error(exc)
        raise ConfigError(
            f"report {path}: not a preflight --json report ({field}: {message})"
        ) from None
