"""One error hierarchy, one table of exit codes, the same for every command.

Library code raises a subclass of :class:`VendzzError`; the CLI catches it once, prints its
one-line message and exits with its :attr:`VendzzError.exit_code`. Errors carry data so a
Python caller gets everything the CLI would have printed.

One convention for "the command ran to its end, and its report says it failed": the entry
point raises a :class:`Finished` subclass carrying the typed report (:class:`RejectsFound`,
:class:`MismatchFound`, :class:`PreflightFailed`, :class:`FleetFailed`,
:class:`KeysNotWritten`, :class:`TargetsMissed`, :class:`AlertsFired`); on success it returns
the report.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # the reports of the Finished[...] bases below (strings: no import cycle)
    from vendzz_migrate.cache.models import WarmReport  # noqa: F401
    from vendzz_migrate.loadtest.model import LoadtestReport  # noqa: F401
    from vendzz_migrate.monitor.runner import MonitorReport  # noqa: F401
    from vendzz_migrate.preflight.fleet import FleetReport  # noqa: F401
    from vendzz_migrate.preflight.model import PreflightReport  # noqa: F401
    from vendzz_migrate.report.copy import CopyReport  # noqa: F401
    from vendzz_migrate.verify.model import VerifyReport  # noqa: F401

R = TypeVar("R")


class ExitCode(IntEnum):
    """Exit codes of every vendzz-migrate command (documented in the README)."""

    OK = 0
    INTERNAL = 1  # a bug: please report it (rerun with -v for the traceback)
    USAGE = 2  # bad command-line usage (Typer/Click)
    SOURCE = 3  # the SQLite source is missing, not SQLite, corrupt, locked or unreadable
    CONFIG = 4  # an invalid mapping, cache spec, check profile or setting
    CONNECTION = 5  # PostgreSQL or Redis unreachable, or authentication failed
    PERMISSION = 6  # connected, but not allowed to do what is needed (CREATE, CONFIG...)
    STATE = 7  # previous state in the way: use --resume or --restart; target not empty
    REJECTS = 8  # the copy finished but some rows went to vendzz_migrate.rejects
    MISMATCH = 9  # verify found differences
    CHECK_FAILED = 10  # preflight: at least one check failed (or warned, with --strict)
    TARGET = 11  # PostgreSQL or Redis reported an error while working
    CAPACITY = 12  # out of memory or disk on a target (Redis OOM, disk full), a worker killed
    INTERRUPTED = 130  # Ctrl-C; state is saved and the run can be resumed


class VendzzError(Exception):
    """Base of every error a user can cause or meet. The message is one line."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return self.message.splitlines()[0] if self.message else type(self).__name__


class SourceError(VendzzError):
    exit_code = ExitCode.SOURCE


class ConfigError(VendzzError):
    exit_code = ExitCode.CONFIG


class ConnectionFailed(VendzzError):
    exit_code = ExitCode.CONNECTION


class PermissionDenied(VendzzError):
    exit_code = ExitCode.PERMISSION


class StateError(VendzzError):
    exit_code = ExitCode.STATE


class RejectsError(VendzzError):
    exit_code = ExitCode.REJECTS


class MismatchError(VendzzError):
    exit_code = ExitCode.MISMATCH


class CheckFailed(VendzzError):
    exit_code = ExitCode.CHECK_FAILED


class TargetError(VendzzError):
    exit_code = ExitCode.TARGET


class CapacityError(VendzzError):
    exit_code = ExitCode.CAPACITY


class Finished(VendzzError, Generic[R]):
    """The command ran to its end but failed: ``report`` is its full, typed report (also in
    ``data["report"]``). The exit code comes from the second base of each subclass."""

    def __init__(self, message: str, report: R, **data: Any) -> None:
        super().__init__(message, report=report, **data)
        self.report = report


class RejectsFound(Finished["CopyReport"], RejectsError):
    """sqlite-to-pg: rows went to the rejects table (and ``allow_rejects`` was not given)."""


class MismatchFound(Finished["VerifyReport"], MismatchError):
    """verify: the target differs from the source."""


class PreflightFailed(Finished["PreflightReport"], CheckFailed):
    """preflight: a check failed (or warned, with ``strict``)."""


class FleetFailed(Finished["FleetReport"], CheckFailed):
    """preflight --merge: some machine's report failed."""


class KeysNotWritten(Finished["WarmReport"], TargetError):
    """warm-cache: Redis refused some keys (the report counts them per cache)."""


class TargetsMissed(Finished["LoadtestReport"], CheckFailed):
    """loadtest: a stage missed a target of the profile."""


class AlertsFired(Finished["MonitorReport"], CheckFailed):
    """monitor: an alert fired or the uptime target was missed."""
