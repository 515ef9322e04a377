"""Collations a file declares that this SQLite does not know (Anki's ``unicase``, an app's own).

SQLite refuses to compare values of a column whose collation it lacks ("no such collation
sequence"), even to read a table in order. Every connection the tool opens registers the
unknown ones: a case-insensitive comparison for names that say so (``unicase``, ``*nocase*``,
``*_ci``...), plain byte order otherwise. Reading only needs a consistent order; what the
collation means in PostgreSQL is the mapping's business (see :func:`case_insensitive`).
"""

from __future__ import annotations

import re
import sqlite3

BUILT_IN = frozenset({"binary", "nocase", "rtrim"})
_NAME = re.compile(
    r"\bCOLLATE\s+(?:\"((?:[^\"]|\"\")+)\"|'((?:[^']|'')+)'|`([^`]+)`|\[([^\]]+)\]"
    r"|(\w+))",
    re.I,
)
_CASE_INSENSITIVE = re.compile(r"(?i)nocase|unicase|icase|_ci$|^ci_|case_?insensitive|ignorecase")


def case_insensitive(name: str | None) -> bool:
    """Whether a collation's name says it compares case-insensitively (NOCASE, unicase...)."""
    return bool(name) and bool(_CASE_INSENSITIVE.search(name or ""))


def declared(conn: sqlite3.Connection) -> set[str]:
    """Every collation name the schema's SQL uses (tables, indexes, views)."""
    names: set[str] = set()
    for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql LIKE '%collate%'"):
        text = sql.decode("utf-8", "replace") if isinstance(sql, bytes) else str(sql or "")
        for match in _NAME.finditer(text):
            name = next(g for g in match.groups() if g is not None)
            names.add(name)
    return names


def register_unknown(conn: sqlite3.Connection) -> list[str]:
    """Register every declared collation SQLite lacks; the names registered."""
    done = []
    for name in sorted(declared(conn)):
        if name.lower() in BUILT_IN:
            continue
        conn.create_collation(name, _folded if case_insensitive(name) else _binary)
        done.append(name)
    return done


def _binary(a: str, b: str) -> int:
    x, y = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    return (x > y) - (x < y)


def _folded(a: str, b: str) -> int:
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y) or _binary(a, b)
