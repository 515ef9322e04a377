"""The one JUnit writer (report/junit.py) gives each gate the XML it gave before the merge.

``golden/`` holds the files the three former writers produced for ``samples``' reports; the
comparison is of the parsed documents (elements, attributes, texts), not of their layout.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.report import samples
from vendzz_migrate.loadtest.junit import render_junit as loadtest_junit
from vendzz_migrate.preflight.junit import render_fleet_junit, render_junit
from vendzz_migrate.verify.render import junit as verify_junit

GOLDEN = Path(__file__).parent / "golden"
Shape = tuple[object, ...]

DOCUMENTS: dict[str, Callable[[], str]] = {
    "preflight.xml": lambda: render_junit(samples.preflight()),
    "preflight-strict.xml": lambda: render_junit(samples.preflight(strict=True)),
    "fleet.xml": lambda: render_fleet_junit(samples.fleet()),
    "loadtest.xml": lambda: loadtest_junit(samples.loadtest()),
    "verify.xml": lambda: verify_junit(samples.verify()),
    "verify-strict.xml": lambda: verify_junit(samples.verify(strict=True)),
}

# (tests, failures, errors, skipped) of each document, counted by hand from samples.py
COUNTS = {
    "preflight.xml": (5, 1, 0, 2),
    "preflight-strict.xml": (5, 2, 0, 2),
    "fleet.xml": (10, 3, 0, 4),
    "loadtest.xml": (6, 1, 2, 1),
    "verify.xml": (6, 2, 0, 0),
    "verify-strict.xml": (6, 3, 0, 0),
}


def shape(element: ET.Element) -> Shape:
    """An element as data: tag, attributes, text (indentation ignored), children."""
    text = element.text or ""
    return (
        element.tag,
        sorted(element.attrib.items()),
        text.strip() if len(element) else text,
        [shape(child) for child in element],
    )


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_same_xml_as_the_former_writers(name: str) -> None:
    expected = ET.parse(GOLDEN / name).getroot()
    assert shape(ET.fromstring(DOCUMENTS[name]())) == shape(expected)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_counts_add_up(name: str) -> None:
    text = DOCUMENTS[name]()
    assert text.startswith("<?xml") and text.endswith("</testsuites>\n")
    root = ET.fromstring(text)
    cases = list(root.iter("testcase"))
    found = tuple(sum(c.find(tag) is not None for c in cases) for tag in ("failure", "error"))
    skipped = sum(c.find("skipped") is not None for c in cases)
    assert (len(cases), *found, skipped) == COUNTS[name]
    assert int(root.get("tests", "-1")) == len(cases)
    assert int(root.get("failures", "-1")) == found[0]
    for suite in root.iter("testsuite"):
        suite_cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(suite_cases)
        assert int(suite.get("failures", "-1")) == sum(
            c.find("failure") is not None for c in suite_cases
        )
        for counter, tag in (("errors", "error"), ("skipped", "skipped")):
            if counter in suite.attrib:
                assert int(suite.get(counter, "-1")) == sum(
                    c.find(tag) is not None for c in suite_cases
                )
