"""Pieces every command shares: option aliases (each naming its env var) and the error boundary."""

from __future__ import annotations

import json
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape

from vendzz_migrate import console
from vendzz_migrate.errors import ConfigError, ExitCode, Finished, VendzzError
from vendzz_migrate.urls import mask_text

T = TypeVar("T")

TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="PostgreSQL URL of the target. [env: DATABASE_URL]",
        show_default=False,
    ),
]
RedisOpt = Annotated[
    str | None,
    typer.Option("--redis", help="Redis URL (redis://, rediss://). [env: REDIS_URL]"),
]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema", help="Target PostgreSQL schema. [env: VENDZZ_SCHEMA] [default: public]"
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="Mapping YAML written by `schema infer` (else inferred)."),
]
JsonOpt = Annotated[
    Path | None,
    typer.Option("--json", help="Also write the report as JSON to this file ('-' for stdout)."),
]
JunitOpt = Annotated[
    Path | None, typer.Option("--junit", help="Also write a JUnit XML report to this file.")
]
SourceArg = Annotated[
    Path,
    typer.Argument(help="The SQLite file (it is only read, never written).", show_default=False),
]


def guarded(
    fn: Callable[[], T],
    *,
    interrupted: str = "nothing was changed; rerun it",
    shown: tuple[type[VendzzError], ...] = (),
) -> T:
    """Run one library call; turn every error into one line on stderr and an exit code.
    ``shown``: errors whose verdict the command's rendered report already states (only the
    exit code then). Ctrl-C and SIGTERM (a service manager's stop) both end it with exit 130
    and the ``interrupted`` hint of the command."""
    try:
        with _sigterm_as_interrupt():
            return fn()
    except shown as exc:
        raise typer.Exit(int(exc.exit_code)) from None
    except VendzzError as exc:
        console.err.print(f"[red]error:[/red] {escape(mask_text(str(exc)))}", soft_wrap=True)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        console.err.print(f"[yellow]interrupted[/yellow]: {interrupted}", soft_wrap=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if console.verbosity() > 1:
            console.err.print(mask_text(traceback.format_exc()), markup=False)
        first = (str(exc).splitlines() or [""])[0]
        console.err.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {mask_text(first)} "
            "(a bug; rerun with -vv for the traceback)",
            soft_wrap=True,
        )
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def rendered(call: Callable[[], T], render: Callable[[T], None]) -> T:
    """One library call, its report rendered whether the command passed (returned) or ran but
    failed (an ``errors.Finished`` carrying the report, raised again for :func:`guarded`)."""
    try:
        report = call()
    except Finished as exc:
        render(exc.report)
        raise
    render(report)
    return report


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (in the main thread only, where signals arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_output_path(path: Path | None, option: str = "--json") -> None:
    """One report file flag (see :func:`check_outputs`)."""
    check_outputs({option: path})


def check_outputs(
    files: dict[str, Path | None], dirs: dict[str, Path | None] | None = None
) -> None:
    """Refuse (CONFIG) an output flag whose path cannot be written, before the long work."""
    from vendzz_migrate.fileio import unwritable

    wanted = [(flag, path, False) for flag, path in files.items()]
    wanted += [(flag, path, True) for flag, path in (dirs or {}).items()]
    for flag, path, directory in wanted:
        if path is None or str(path) == "-":
            continue
        reason = unwritable(path, directory=directory)
        if reason is not None:
            raise ConfigError(f"{flag} {path}: cannot write there ({reason})")


def write_json(path: Path | None, payload: BaseModel | dict[str, Any]) -> None:
    """Write a report as JSON: to a file (atomically) or to stdout with ``-``."""
    if path is None:
        return
    from vendzz_migrate.fileio import atomic_write_text

    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    if str(path) == "-":
        console.out.print(text, markup=False, highlight=False)
    else:
        atomic_write_text(path, text + "\n")
