"""The declared type is the contract: the rules that keep a declared SQLite type's family.

A column declared ``DATE``, ``DATETIME`` / ``TIMESTAMP``, ``BOOL`` / ``BOOLEAN``,
``DECIMAL(p,s)`` / ``NUMERIC(p,s)``, ``BLOB`` or ``JSON`` keeps that family in PostgreSQL
whatever its name and whether or not the table is empty; values that do not fit are rejected
into the quarantine (counted in the note), never silently re-typed. Names are a hint only for
columns declared without a type or with a ``NUMERIC`` / ``TEXT`` affinity (see ``infer``).
"""

from __future__ import annotations

import re

from vendzz_migrate.source.introspect import Column
from vendzz_migrate.typemap.convert import Kind, OnError
from vendzz_migrate.typemap.profile import ColumnProfile

Choice = tuple[Kind, str, str] | tuple[Kind, str, str, OnError]

_BASE = re.compile(r"\s*([A-Za-z_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*")
# a name that says the column is a key (never a timestamp, a flag or JSON)
KEY_NAME = re.compile(r"(?:_id|Id|ID|_key|Key|_uuid|Uuid)$|^(?i:id|uuid|key)$")


def base_type(decl_type: str) -> tuple[str, int | None, int | None]:
    """(upper-case type name, precision, scale) of a declared type: ``DECIMAL(4,2)`` ->
    ``('DECIMAL', 4, 2)``; ``('', None, None)`` for an undeclared column."""
    match = _BASE.fullmatch(decl_type)
    if not match:
        return decl_type.strip().upper(), None, None
    name, p, s = match.groups()
    return (re.sub(r"\s+", " ", name.upper()), int(p) if p else None, int(s) if s else None)


def declared(col: Column, prof: ColumnProfile) -> Choice | None:
    """The choice the declared type imposes, or None when the profile decides."""
    name, precision, scale = base_type(col.decl_type)
    words = set(name.split())
    n = prof.non_null
    if name == "DATE":
        return _date(prof)
    if words & {"DATETIME", "TIMESTAMP", "TIMESTAMPTZ"}:
        bad = n - prof.epoch_s - prof.epoch_ms - prof.iso_text
        return (
            Kind.TIMESTAMP,
            "timestamptz",
            _why(
                f"declared {col.decl_type}",
                _maybe(bad, "value(s) that are not epoch s/ms or date text"),
            ),
        )
    if name in ("BOOL", "BOOLEAN"):
        return (
            Kind.BOOLEAN,
            "boolean",
            _why(
                f"declared {col.decl_type}",
                _maybe(
                    n - prof.zero_one, "value(s) other than 0/1 ('true'/'false' text is accepted)"
                ),
            ),
        )
    if name in ("DECIMAL", "NUMERIC") and precision is not None:
        pg = f"numeric({precision},{scale or 0})"
        bad = n - prof.integers - prof.reals - prof.numeric_text
        return (
            Kind.DECIMAL,
            pg,
            _why(
                f"declared {col.decl_type}",
                _maybe(
                    bad,
                    f"non-numeric value(s), and any with more than {scale or 0} decimals or too"
                    f" large for {pg},",
                ),
            ),
        )
    if name == "DECIMAL":
        return (
            Kind.DECIMAL,
            "numeric",
            _why(
                f"declared {col.decl_type}",
                _maybe(n - prof.integers - prof.reals - prof.numeric_text, "non-numeric value(s)"),
            ),
        )
    if "BLOB" in words:
        return (
            Kind.BYTES,
            "bytea",
            _why(
                f"declared {col.decl_type}",
                "text values are kept as their UTF-8 bytes" if prof.texts else "",
            ),
        )
    if name in ("JSON", "JSONB"):
        return json_choice(prof, f"declared {col.decl_type}")
    return None


def _date(prof: ColumnProfile) -> Choice:
    n = prof.non_null
    if not n or (prof.date_only == n):
        return Kind.TIMESTAMP, "date", "declared DATE: date ('YYYY-MM-DD' values)"
    return (
        Kind.TIMESTAMP,
        "timestamptz",
        "declared DATE but values carry a time of day or are epoch numbers: timestamptz"
        " (date would drop the time)"
        + _sep(
            _maybe(
                n - prof.epoch_s - prof.epoch_ms - prof.iso_text,
                "value(s) that are not epoch s/ms or date text",
            )
        ),
    )


def json_choice(prof: ColumnProfile, why: str) -> Choice:
    """jsonb; any text that is not JSON is kept as a JSON string (on_error: wrap): every row
    lands and the text is still there, as the service read it."""
    doubled = f"{prof.json_double} double-encoded (unwrapped)" if prof.json_double else ""
    plain = prof.texts - prof.json_container - prof.json_scalar
    if not plain:
        return Kind.JSON, "jsonb", _why(why, doubled)
    kept = (
        f"{plain} text value(s) that are not JSON (empty '' included) kept as JSON strings"
        " (on_error: wrap; jsonb_typeof() = 'string')"
    )
    return Kind.JSON, "jsonb", _why(why, doubled, kept), OnError.WRAP


def _maybe(count: int, what: str) -> str:
    return f"up to {count} {what} will be rejected" if count > 0 else ""


def _sep(text: str) -> str:
    return f"; {text}" if text else ""


def _why(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
