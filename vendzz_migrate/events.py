"""How the library tells what it is doing without printing: one stream of :class:`Event`.

Every command's entry point takes ``on_event`` (a :data:`Sink`, default :func:`discard`). The
CLI renders the events with rich (:class:`vendzz_migrate.console.EventRenderer`), a test
collects them (:class:`Collector`), a caller such as the cutover forwards them::

    events = Collector()
    report = copy.run(CopyOptions(...), on_event=events)
    [e.message for e in events.of("step")]   # ["step 1/7: snapshot", ...]

Kinds: ``step`` (a named step begins; ``fields``: number, total, title), ``note`` (an
informational line), ``warning``, ``debug`` (shown with ``-v``) and ``progress`` (per-item
counters: ``fields["action"]`` is open / add / advance / finish / close, see :class:`Progress`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Kind = Literal["step", "note", "warning", "debug", "progress"]


@dataclass(frozen=True)
class Event:
    """One thing that happened: its kind, a line for a human, the figures for a program."""

    kind: Kind
    message: str = ""
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


Sink = Callable[[Event], None]


def discard(event: Event) -> None:
    """The default sink: a library call that nobody watches says nothing."""
    del event


class Collector:
    """A sink that keeps every event (tests, callers that want the lines afterwards)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: Kind) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


class Kept:
    """A sink that forwards every event to ``sink`` and keeps the lines of the ``kinds`` it
    names (at most ``limit``): the notes and warnings a cutover step journals with its figures."""

    def __init__(self, sink: Sink, kinds: tuple[Kind, ...], limit: int = 50) -> None:
        self.sink, self.kinds, self.limit = sink, kinds, limit
        self.kept: list[Event] = []
        self.dropped = 0

    def __call__(self, event: Event) -> None:
        if event.kind in self.kinds:
            if len(self.kept) < self.limit:
                self.kept.append(event)
            else:
                self.dropped += 1
        self.sink(event)

    def lines(self) -> dict[str, Any]:
        """``{"said": ["warning: ...", ...]}`` (plus ``said_dropped``), empty when nothing was."""
        if not self.kept:
            return {}
        said: dict[str, Any] = {"said": [f"{e.kind}: {e.message}" for e in self.kept]}
        if self.dropped:
            said["said_dropped"] = self.dropped
        return said


def emit(sink: Sink, kind: Kind, message: str = "", **fields: Any) -> None:
    sink(Event(kind, message, MappingProxyType(fields)))


def note(sink: Sink, message: str, **fields: Any) -> None:
    emit(sink, "note", message, **fields)


def warning(sink: Sink, message: str, **fields: Any) -> None:
    emit(sink, "warning", message, **fields)


def debug(sink: Sink, message: str, **fields: Any) -> None:
    emit(sink, "debug", message, **fields)


@contextmanager
def step(sink: Sink, number: int, total: int, title: str) -> Iterator[None]:
    """A named step: ``step 3/7: copy table data`` when it begins, its duration (debug) after."""
    emit(sink, "step", f"step {number}/{total}: {title}", number=number, total=total, title=title)
    started = time.monotonic()
    yield
    seconds = time.monotonic() - started
    debug(sink, f"step {number}/{total} took {seconds:.2f}s", number=number, seconds=seconds)


class Progress:
    """Per-item counters as events (a progress bar when the CLI renders them)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def add(self, name: str, total: int | None, done: int = 0) -> None:
        emit(self._sink, "progress", name, action="add", task=name, total=total, done=done)

    def advance(self, name: str, n: int) -> None:
        emit(self._sink, "progress", name, action="advance", task=name, n=n)

    def finish(self, name: str) -> None:
        emit(self._sink, "progress", name, action="finish", task=name)


@contextmanager
def progress(sink: Sink, verb: str = "copying", unit: str = "rows") -> Iterator[Progress]:
    """Open a group of counters (``verb`` and ``unit`` name them: "copying", "rows")."""
    emit(sink, "progress", action="open", verb=verb, unit=unit)
    try:
        yield Progress(sink)
    finally:
        emit(sink, "progress", action="close")
