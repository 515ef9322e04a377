"""Translate SQLite column defaults into PostgreSQL, for the column's mapped type.

``unixepoch()``, ``strftime('%s','now') * 1000``, ``CURRENT_TIMESTAMP``, ``datetime('now')``,
``lower(hex(randomblob(16)))``, a default written with double quotes (``"standard"``), 0/1 for
booleans; anything else goes through sqlglot, and what cannot be translated is reported.
"""

from __future__ import annotations

import re

from vendzz_migrate.typemap.convert import Kind

_NOW_S = re.compile(
    r"unixepoch\(\s*\)|unixepoch\(\s*'now'\s*\)|cast\(\s*strftime\(\s*'%s'\s*,\s*'now'\s*\)"
    r"\s+as\s+integer\s*\)|strftime\(\s*'%s'\s*,\s*'now'\s*\)"
)
_TIMES_1000 = re.compile(r"^(?P<inner>.+?)\s*\*\s*1000$")
_NOW_TEXT = re.compile(r"current_timestamp|datetime\(\s*'now'\s*\)")
_RANDOM_HEX = re.compile(r"(lower|upper)?\(?\s*hex\(\s*randomblob\(\s*16\s*\)\s*\)\s*\)?")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
_SQL_TEXT_NOW = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def translate(default: str | None, kind: Kind) -> tuple[str | None, str | None]:
    """Return (PostgreSQL default expression or None, a warning or None)."""
    if default is None:
        return None, None
    expr = _strip_parens(default)
    low = re.sub(r"\s+", " ", expr.lower())
    if low == "null":
        return None, None
    times = _TIMES_1000.match(low)
    millis = bool(times)
    core = _strip_parens(times.group("inner")) if times else low
    if _NOW_S.fullmatch(core):
        return _now(kind, millis=millis), None
    if _NOW_TEXT.fullmatch(core) and not millis:
        return (_SQL_TEXT_NOW if kind is Kind.TEXT else _now(kind, millis=False)), None
    if _RANDOM_HEX.fullmatch(low):
        upper = low.startswith("upper") or not low.startswith("lower")
        inner = "replace(gen_random_uuid()::text, '-', '')"
        return (f"upper({inner})" if upper else inner), None
    return _literal(expr, kind)


def _now(kind: Kind, *, millis: bool) -> str:
    if kind is Kind.TIMESTAMP:
        return "now()"
    if kind is Kind.TEXT:
        return _SQL_TEXT_NOW
    scale = " * 1000" if millis else ""
    return f"(extract(epoch from now()){scale})::bigint"


def _literal(expr: str, kind: Kind) -> tuple[str | None, str | None]:
    if expr.startswith('"') and expr.endswith('"') and len(expr) >= 2:
        expr = "'" + expr[1:-1].replace('""', '"').replace("'", "''") + "'"
    if _NUMBER.fullmatch(expr):
        if kind is Kind.BOOLEAN and expr in ("0", "1"):
            return ("true" if expr == "1" else "false"), None
        if kind is Kind.TIMESTAMP:
            return f"to_timestamp({expr})", None
        return expr, None
    if expr.startswith("'") and expr.endswith("'"):
        if kind is Kind.BOOLEAN and expr in ("'0'", "'1'"):
            return ("true" if expr == "'1'" else "false"), None
        return expr, None
    if expr.lower() in ("true", "false"):
        return expr.lower(), None
    return _transpile(expr)


def _transpile(expr: str) -> tuple[str | None, str | None]:
    import sqlglot

    try:
        out = sqlglot.transpile(expr, read="sqlite", write="postgres")[0]
    except Exception:  # sqlglot's parse errors have several types
        return None, f"default {expr!r} could not be translated; it was left out"
    return out, None
