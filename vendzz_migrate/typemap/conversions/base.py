"""What every conversion shares: the kinds, the :class:`Conversion` interface, COPY lines, the
encodings of SQLite values and the helpers the kinds use.

A :class:`Conversion` holds, in one place, every rule of its kind of value (one module per
kind in this package owns the kind's):
- forward, the copier's fast path in SQLite SQL (``ok_sql`` says whether a value is in the
  common form, ``copy_sql`` formats it as PostgreSQL text right inside SQLite, and
  :func:`finish_line` escapes the whole COPY line) and its slow path in Python,
  :meth:`Conversion.convert`, the reference, used for every value the fast path does not claim
  (it returns the text or raises :class:`Reject`);
- verify's canonical form (:mod:`vendzz_migrate.typemap.canonical`): :meth:`Conversion.canon`
  of the converted text (the reference; :meth:`Conversion.source_canon` applies it to a SQLite
  value with the column's ``on_error`` policy, :meth:`Conversion.pg_canon` to a PostgreSQL
  value), :meth:`Conversion.pg_canon_sql` the same in PostgreSQL, and ONE fast tier that may
  answer "unsure": SQLite SQL (:meth:`Conversion.canon_sql`) or Python/C
  (:meth:`Conversion.fast_canon`);
- reverse, for the rollback: :meth:`Conversion.encoding_of` reads how a SQLite value is written
  (an :class:`Encoding`), :meth:`Conversion.reverse` writes a PostgreSQL value in an encoding
  (or raises :class:`Unfit`), :meth:`Conversion.exact` says when the forward conversion reads a
  reverse-converted value back unchanged without a check.

The paths must agree wherever a fast one answers; property tests check that, and that
SQLite -> PostgreSQL -> SQLite gives back the same canonical value for every kind.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from vendzz_migrate.typemap import canonical, values
from vendzz_migrate.typemap.values import Raw

Reject = values.Reject  # defined beside Raw (canonical raises it too); the same class
EPOCH = canonical.EPOCH
# (canonical bytes of a non-NULL value as read: typeof() as bytes, the value) or None: unsure
FastCanon = Callable[[bytes, Any], "bytes | None"]
Canon = Callable[[Raw], "str | None"]  # verify's canonical text of a SQLite value, None: NULL
PgValue = str | int | float | Decimal | bool | datetime | date | bytes | None
_INT_CANON = re.compile(r"-?(0|[1-9]\d{0,18})")


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    JSON = "json"
    BYTES = "bytes"


_PG_KINDS: tuple[tuple[str, Kind], ...] = (
    (r"smallint|integer|bigint", Kind.INTEGER),
    (r"double precision|real", Kind.FLOAT),
    (r"numeric(\(\d+(,\d+)?\))?", Kind.DECIMAL),
    (r"boolean", Kind.BOOLEAN),
    (r"timestamp(\(\d\))? with(out)? time zone|date", Kind.TIMESTAMP),
    (r"jsonb?", Kind.JSON),
    (r"bytea", Kind.BYTES),
)


@functools.lru_cache(maxsize=256)
def kind_for(pg_type: str) -> Kind:
    """The kind of value a PostgreSQL column type (as ``format_type`` names it) holds."""
    for pattern, kind in _PG_KINDS:
        if re.fullmatch(pattern, pg_type.strip(), re.I):
            return kind
    return Kind.TEXT  # text, varchar(n), uuid, citext...: PostgreSQL validates the text


class OnError(StrEnum):
    """What to do with a value that does not convert."""

    REJECT = "reject"  # the row goes to vendzz_migrate.rejects (default)
    NULL = "null"  # the value becomes NULL (counted as converted); nullable columns only
    WRAP = "wrap"  # json only: keep the raw text as a JSON string


class Unfit(Exception):
    """A PostgreSQL value that the column's SQLite encoding cannot hold unchanged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a SQLite value is written: its storage class and, where it matters, its form.

    Forms: timestamps ``s`` / ``ms`` (epoch, in integer, real or text storage) or a text shape
    ``<sep><fraction digits><zone>`` (``T3Z`` is JavaScript's toISOString, `` 0`` SQLite's
    CURRENT_TIMESTAMP, ``date`` a date alone); JSON the number of extra encodings (``1`` for a
    double-encoded value) or ``raw`` (invalid JSON kept as a string by ``on_error: wrap``);
    booleans in text their spelling (``true``, ``t``, ``1``...)."""

    storage: str  # integer | real | text | blob
    form: str = ""

    def __str__(self) -> str:
        return f"{self.storage}:{self.form}" if self.form else self.storage

    @classmethod
    def parse(cls, text: str) -> Encoding:
        storage, _, form = text.partition(":")
        return cls(storage, form)


def copy_escape(text: str) -> str:
    """Escape text for PostgreSQL COPY text format."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


JSON_NUL = b"\\u0000"  # the JSON escape jsonb refuses (see finish_line)
NULL_FIELD = b"\xff"  # a NULL in a fast-path line: a byte no UTF-8 text holds (see finish_line)
_SEPARATOR = "'\t'"


def line_sql(fields: Sequence[tuple[str, Conversion]]) -> tuple[str, str]:
    """SQLite expressions for one row of the fast path: its COPY line (NULL when a value is not
    in its usual form) and its number of NULL fields; :func:`finish_line` completes the line.

    SQLite only checks storage classes and formats: the per-value byte searches (NUL bytes,
    backslashes) cost more than everything else SQLite does here, so they are left to
    :func:`finish_line`, which makes them once per line at C speed. Fields are joined with
    ``||``, which keeps a NUL byte for that check (printf's %s would cut the value there)."""
    if not fields:
        return "''", "0"
    ok = " AND ".join(conv.row_ok_sql(col) for col, conv in fields)
    parts = [conv.field_sql(col) for col, conv in fields]
    line = f" || {_SEPARATOR} || ".join(parts) if len(parts) > 1 else f"CAST({parts[0]} AS TEXT)"
    nulls = " + ".join(f"({col} IS NULL)" for col, conv in fields if not conv.not_null)
    return f"CASE WHEN coalesce({ok}, 0) THEN {line} END", nulls or "0"


def finish_line(line: bytes, fields: int, nulls: int) -> bytes | None:
    """The second half of a fast-path COPY line of ``fields`` fields, ``nulls`` of them NULL
    (see :func:`line_sql`): the line escaped for COPY text format, or ``None`` when it cannot
    be finished safely and the row must take the slow path: a value holds a tab (a tab is then
    not a separator), a NUL byte (PostgreSQL text cannot hold it), a 0xFF byte (the NULL
    mark: the mark count must be the NULL count for every mark to be a NULL) or the JSON escape
    ``\\u0000`` (jsonb cannot hold it: Python gives the row its reason; searched only in
    lines holding a backslash, so the common line pays nothing)."""
    if line.count(b"\t") != max(fields - 1, 0) or b"\x00" in line:
        return None
    if nulls and line.count(NULL_FIELD) != nulls:
        return None
    if b"\\" in line:
        if JSON_NUL in line:
            return None
        line = line.replace(b"\\", b"\\\\")
    if nulls:
        line = line.replace(NULL_FIELD, b"\\N")
    if b"\n" in line or b"\r" in line:
        line = line.replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return line


def decode_text(raw: Raw) -> str:
    """Text of a text/blob value, or a reject for invalid UTF-8 and NUL bytes."""
    assert isinstance(raw.value, bytes)
    try:
        text = raw.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(f"invalid UTF-8 at byte {exc.start}") from None
    if "\x00" in text:
        raise Reject("NUL byte in text (PostgreSQL text cannot hold it)")
    return text


def float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def number_text(value: int | float | Decimal) -> str:
    """A number as PostgreSQL prints it (``NaN``, ``Infinity``, no exponent for numeric)."""
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    return str(value) if isinstance(value, int) else format(value, "f")


def preview(raw: Raw) -> str:
    """A short view of a raw value for a reject's reason."""
    if isinstance(raw.value, bytes):
        shown = raw.value[:40].decode("utf-8", "backslashreplace")
        return f"{raw.kind} {shown!r}"
    return f"{raw.kind} {raw.value!r}"


def pg_text(value: PgValue) -> str:
    """A PostgreSQL value (as psycopg reads it; jsonb as its text) as the PostgreSQL text the
    forward conversion would have produced for it."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        from vendzz_migrate.typemap.conversions.temporal import moment_of

        return moment_of(value).isoformat(sep=" ")
    if isinstance(value, bytes | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal):
        return number_text(value)
    assert value is not None
    return str(value)


def reverse_scalar(value: PgValue, enc: Encoding) -> Raw:
    """text, integer, float and decimal back to SQLite: a number stays a number (integer when
    integral and the column held integers, else real), text stays text."""
    if isinstance(value, str):
        if enc.storage == "integer" and _INT_CANON.fullmatch(value):
            return Raw("integer", int(value))
        return Raw.of(value)
    assert isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if enc.storage == "text":
        return Raw.of(number_text(value))
    if isinstance(value, float | Decimal) and math.isnan(value):
        return Raw.of("NaN")  # SQLite stores a NaN real as NULL
    if enc.storage == "integer" and _integral(value) and -(2**63) <= int(value) < 2**63:
        return Raw("integer", int(value))
    if isinstance(value, int) and enc.storage != "real":
        return Raw("integer", value)
    return Raw("real", float(value))


def _integral(value: int | float | Decimal) -> bool:
    if isinstance(value, int):
        return True
    return math.isfinite(value) and value == int(value)


class Conversion:
    """Base: each kind's module defines its forward paths, canonical form and reverse."""

    kind: Kind
    natural: tuple[str, ...] = ()  # storage classes that need no change of form
    text_is_canon = False  # a valid UTF-8 text value without NUL is its own canonical form

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        self.pg_type = pg_type
        self.not_null = not_null
        self.on_error = on_error
        self.read_type()

    def read_type(self) -> None:
        """What the kind reads off its PostgreSQL type (a length, a range, a precision...)."""

    # -- forward: the fast path (SQLite SQL) -----------------------------------------------
    def ok_sql(self, col: str) -> str:
        """SQLite predicate: the value (never NULL here) is in the form copy_sql handles."""
        raise NotImplementedError

    def copy_sql(self, col: str) -> str:
        """SQLite expression formatting a value accepted by ok_sql as PostgreSQL text, not
        yet escaped for COPY (:func:`finish_line` escapes whole lines)."""
        raise NotImplementedError

    def changed_form(self, raw: Raw, text: str) -> bool:  # noqa: ARG002 (used by JSON)
        """Whether converting ``raw`` changed its form (counted as a converted value)."""
        return raw.kind not in self.natural

    def field_sql(self, col: str) -> str:
        """The column's field of a fast-path line (see :func:`line_sql`): NULL as 0xFF."""
        if self.not_null:  # a NULL fails row_ok_sql: the row has no fast line
            return self.copy_sql(col)
        return f"CASE WHEN {col} IS NULL THEN X'FF' ELSE {self.copy_sql(col)} END"

    def row_ok_sql(self, col: str) -> str:
        null_ok = "0" if self.not_null else "1"
        return f"(CASE WHEN {col} IS NULL THEN {null_ok} ELSE ({self.ok_sql(col)}) END)"

    # -- forward: the slow path (Python, the reference) ------------------------------------
    def convert(self, raw: Raw) -> str:
        """Reference conversion of a non-NULL value to its PostgreSQL text (unescaped)."""
        raise NotImplementedError

    def field(self, raw: Raw) -> str:
        """Slow path for one field, NULL included, as escaped COPY text."""
        if raw.kind == "null":
            if self.not_null:
                raise Reject("NULL in a NOT NULL column")
            return "\\N"
        return copy_escape(self.convert(raw))

    # -- verify's canonical form (see vendzz_migrate.typemap.canonical) --------------------
    def canon(self, text: str) -> str:
        """The reference: the canonical text of the PostgreSQL text :meth:`convert` gave."""
        return text

    def source_canon(self) -> Canon:
        """The canonical value of one SQLite value of this column (None for NULL); raises
        Reject when the copier would have rejected the row, and applies on_error: null /
        wrap (a function, so that verify's loops look nothing up per value)."""
        convert, finish = self.convert, self.canon
        not_null, policy = self.not_null, self.on_error

        def canon(raw: Raw) -> str | None:
            if raw.value is None:
                if not_null:
                    raise Reject("NULL in a NOT NULL column")
                return None
            try:
                text = convert(raw)
            except Reject:
                if policy is OnError.NULL:
                    return None
                if policy is OnError.WRAP and raw.kind == "text":
                    return canonical.wrapped_json(raw)
                raise
            return finish(text)

        return canon

    def pg_canon(self, value: PgValue) -> str | None:
        """verify's canonical text of a PostgreSQL value of this column as psycopg reads it
        (jsonb as its text); None for NULL."""
        return None if value is None else self.canon(pg_text(value))

    def pg_canon_sql(self, col: str) -> str:
        """The canonical text of a PostgreSQL column (quoted name) of this kind, in SQL."""
        return f"{col}::text"  # text, varchar, uuid, integers, boolean ('true' / 'false')

    def canon_sql(self, col: str) -> str | None:  # noqa: ARG002 (each kind its own)
        """verify's fast tier in SQLite: the ``WHEN '<storage class>' THEN`` branches of a
        ``CASE typeof(col)`` giving byte 0xFF and the canonical bytes of a value in its
        common form (no branch, or NULL: unsure); None when SQLite cannot print this kind."""
        return None

    def fast_canon(self) -> FastCanon | None:
        """verify's fast tier outside SQLite, for a kind :meth:`canon_sql` cannot print."""
        return None

    # -- reverse: PostgreSQL value -> the SQLite encoding the column used ------------------
    def encoding_of(self, raw: Raw) -> Encoding | None:
        """How one SQLite value of this column is written (None for NULL)."""
        return None if raw.kind == "null" else Encoding(raw.kind)

    def default_encoding(self, declared: str = "") -> Encoding:  # noqa: ARG002
        """A column's encoding when it holds no value yet (from its declared SQLite type)."""
        return Encoding(self.natural[0] if self.natural else "text")

    def fallback_encodings(self) -> tuple[Encoding, ...]:
        """Encodings to try when the column's cannot hold a value (a number or a text may
        change storage class and still mean the same; formed kinds never swap)."""
        return (self.default_encoding(),)

    def reverse(self, value: PgValue, enc: Encoding) -> Raw:
        """``value`` (as psycopg reads it; jsonb as its text) written in encoding ``enc``.
        Raises :class:`Unfit` when the encoding cannot express it."""
        if value is None:
            return Raw("null", None)
        return self.reverse_value(value, enc)

    def reverse_value(self, value: PgValue, enc: Encoding) -> Raw:
        """:meth:`reverse` of a non-NULL value."""
        return reverse_scalar(value, enc)

    def exact(self, raw: Raw) -> bool:  # noqa: ARG002 (each kind its own)
        """Whether the forward conversion reads the reverse-converted ``raw`` back to the very
        value it came from without a check (the property tests check each kind's claim)."""
        return False
