"""The one console. Data (tables, JSON) goes to stdout; progress and diagnostics to stderr.

``NO_COLOR`` is honoured by rich itself; when stderr is not a terminal (CI, pipes) progress is
printed as plain lines instead of live bars.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from vendzz_migrate.events import Event

# wide enough that table names are never cut when stdout is a file or a pipe
out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, highlight=False)

_verbosity = 0


def set_verbosity(level: int) -> None:
    global _verbosity
    _verbosity = level


def verbosity() -> int:
    return _verbosity


def info(message: str) -> None:
    if _verbosity >= 0:
        err.print(message, markup=False)


def warn(message: str) -> None:
    if _verbosity >= 0:
        err.print(f"[yellow]warning:[/yellow] {message}")


def debug(message: str) -> None:
    if _verbosity > 0:
        err.print(f"[dim]{message}[/dim]", markup=True)


def interactive() -> bool:
    return err.is_terminal and not os.environ.get("CI") and _verbosity >= 0


@dataclass
class _PlainTask:
    name: str
    total: int | None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    last_print: float = 0.0


class ProgressReporter:
    """Per-item progress: a rich bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, every_s: float = 5.0, verb: str = "copying", unit: str = "rows") -> None:
        self._verb, self._unit = verb, unit
        self._rich: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._plain: dict[str, _PlainTask] = {}
        self._every_s = every_s
        if interactive():
            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            )

    def __enter__(self) -> ProgressReporter:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def add(self, name: str, total: int | None, done: int = 0) -> None:
        if self._rich is not None:
            self._tasks[name] = self._rich.add_task(name, total=total, completed=done, rate="")
        else:
            self._plain[name] = _PlainTask(name, total, done)

    def advance(self, name: str, n: int) -> None:
        if self._rich is not None:
            task_id = self._tasks[name]
            self._rich.advance(task_id, n)
            task = self._rich.tasks[task_id]
            speed = task.speed or 0.0
            self._rich.update(task_id, rate=f"{speed:,.0f} {self._unit}/s")
            return
        plain = self._plain[name]
        plain.done += n
        now = time.monotonic()
        if now - plain.last_print >= self._every_s:
            plain.last_print = now
            self._print_plain(plain, now)

    def finish(self, name: str) -> None:
        if self._rich is not None:
            return
        task = self._plain[name]
        self._print_plain(task, time.monotonic(), final=True)

    def _print_plain(self, task: _PlainTask, now: float, final: bool = False) -> None:
        if _verbosity < 0:
            return
        elapsed = max(now - task.started, 1e-9)
        rate = task.done / elapsed
        total = f"/{task.total:,}" if task.total is not None else ""
        eta = ""
        if task.total and rate > 0 and not final:
            eta = f", ETA {max(task.total - task.done, 0) / rate:,.0f}s"
        state = "done" if final else self._verb
        print(
            f"{task.name}: {state} {task.done:,}{total} {self._unit}, {rate:,.0f} {self._unit}/s"
            f"{eta}",
            file=sys.stderr,
            flush=True,
        )


class EventRenderer:
    """The CLI's sink for the library's events (:mod:`vendzz_migrate.events`): steps and notes
    as lines on stderr, warnings in yellow, debug lines with ``-v``, progress as bars."""

    def __init__(self) -> None:
        self._progress: ProgressReporter | None = None

    def __call__(self, event: Event) -> None:
        if event.kind == "progress":
            self._on_progress(event)
        elif event.kind == "warning":
            warn(event.message)
        elif event.kind == "debug":
            debug(event.message)
        else:
            info(event.message)

    def _on_progress(self, event: Event) -> None:
        f = event.fields
        action = f.get("action")
        if action == "open":
            self._progress = ProgressReporter(verb=f["verb"], unit=f["unit"]).__enter__()
            return
        bar = self._progress
        if bar is None:
            return
        if action == "add":
            bar.add(f["task"], f["total"], f["done"])
        elif action == "advance":
            bar.advance(f["task"], f["n"])
        elif action == "finish":
            bar.finish(f["task"])
        elif action == "close":
            self._progress = None
            bar.__exit__(None, None, None)
