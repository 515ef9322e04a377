"""The library never prints: only ``cli/`` and ``console.py`` reach the console or call
``print``; everything else tells what it does through :mod:`vendzz_migrate.events`."""

from __future__ import annotations

import ast
from pathlib import Path

import vendzz_migrate

PACKAGE = Path(vendzz_migrate.__file__).parent

#: modules that are programs of their own, run as child processes: their stdout is read by
#: the parent (the load generator's JSON event protocol; the live writer's row count)
PROGRAMS = {"loadtest/engine.py", "sample/live.py"}


def _library_modules() -> list[Path]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/") or relative == "console.py" or relative in PROGRAMS:
            continue
        found.append(path)
    return found


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (a module run as a script, e.g. to write a schema)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    left, right = node.test.left, node.test.comparators
    return (
        isinstance(left, ast.Name)
        and left.id == "__name__"
        and len(right) == 1
        and isinstance(right[0], ast.Constant)
        and right[0].value == "__main__"
    )


def violations(source: str, name: str) -> list[str]:
    """Imports of the console and calls of ``print`` in one module's source."""
    tree = ast.parse(source, name)
    body = [node for node in tree.body if not _is_main_guard(node)]
    found = []
    for node in (n for top in body for n in ast.walk(top)):
        line = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if _console(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found += [f"{line}: from {node.module} import" for n in names if _console(n)][:1]
        elif isinstance(node, ast.Call) and _is_print(node.func):
            found.append(f"{line}: print()")
    return found


def _is_print(func: ast.expr) -> bool:
    return isinstance(func, ast.Name) and func.id == "print"


def _console(dotted: str) -> bool:
    return dotted == "vendzz_migrate.console" or dotted.startswith("vendzz_migrate.console.")


def test_the_library_never_prints() -> None:
    modules = _library_modules()
    assert len(modules) > 100  # the walk found the package
    found = [v for path in modules for v in violations(path.read_text("utf-8"), str(path))]
    assert not found, "library modules must emit events, not print:\n" + "\n".join(found)


def test_the_check_catches_every_form() -> None:
    """The rule's own test: each way of reaching the console is found, the script guard and
    a method named print are not."""
    bad = {
        "import vendzz_migrate.console": 1,
        "from vendzz_migrate import console": 1,
        "from vendzz_migrate.console import ProgressReporter": 1,
        "def f():\n    print('x')": 1,
        "if __name__ == '__main__':\n    print('schema')": 0,
        "out.print('x')": 0,
        "from vendzz_migrate import events": 0,
    }
    for source, count in bad.items():
        assert len(violations(source, "m.py")) == count, source
