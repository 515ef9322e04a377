"""The one JUnit XML writer of the gates (preflight, verify, loadtest).

Each gate maps its report to :class:`Suite` s of :class:`Case` s; this module counts the
outcomes and writes the XML: ``<testsuites>`` with the totals, a ``<testsuite>`` per suite with
its own counts, a ``<testcase>`` per case holding at most one ``<failure>``, ``<error>`` or
``<skipped>`` and optionally a ``<system-out>``. ``counters`` names the counts a gate's files
show (beside ``tests``, always shown), so each gate's XML stays what CI jobs already parse.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["failure", "error", "skipped"]
Counters = tuple[Literal["failures", "errors", "skipped"], ...]
_COUNTER = {"failure": "failures", "error": "errors", "skipped": "skipped"}


@dataclass(frozen=True)
class Outcome:
    """A case that did not pass (``failure``, ``error``) or did not run (``skipped``)."""

    kind: Kind
    message: str
    type: str | None = None
    text: str | None = None  # the element's body (details, a remedy)


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    time: str = "0"
    outcome: Outcome | None = None  # None: passed
    out: str | None = None  # <system-out>


@dataclass(frozen=True)
class Suite:
    name: str
    cases: Sequence[Case] = field(default_factory=list)
    time: str | None = None


def seconds(value: float) -> str:
    return f"{value:.3f}"


def render(
    name: str, suites: Sequence[Suite], counters: Counters, time: float | None = None
) -> str:
    """The XML document (declaration, indented, a final newline)."""
    root = ET.Element("testsuites", name=name)
    totals: Counter[str] = Counter()
    for suite in suites:
        element = ET.SubElement(root, "testsuite", name=suite.name)
        counts = Counter(_case(element, case) for case in suite.cases)
        counts["tests"] = len(suite.cases)
        _counts(element, counts, counters, suite.time)
        totals += counts
    _counts(root, totals, counters, None if time is None else seconds(time))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _counts(
    element: ET.Element, counts: Counter[str], counters: Counters, time: str | None
) -> None:
    element.set("tests", str(counts["tests"]))
    for counter in counters:
        element.set(counter, str(counts[counter]))
    if time is not None:
        element.set("time", time)


def _case(suite: ET.Element, case: Case) -> str:
    """Write one testcase; returns the counter it adds to (``passed`` for none)."""
    element = ET.SubElement(
        suite, "testcase", classname=case.classname, name=case.name, time=case.time
    )
    outcome = case.outcome
    if outcome is not None:
        attrs = {"message": outcome.message}
        if outcome.type is not None:
            attrs = {"type": outcome.type, **attrs}
        ET.SubElement(element, outcome.kind, attrs).text = outcome.text or None
    if case.out:
        ET.SubElement(element, "system-out").text = case.out
    return "passed" if outcome is None else _COUNTER[outcome.kind]
