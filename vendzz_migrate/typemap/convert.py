"""Value conversions: SQLite value -> PostgreSQL COPY text, and verify's canonical form of it.

Each :class:`Conversion` holds, in one place, every rule of its kind of value:
- the copier's fast path, written in SQLite SQL: ``ok_sql`` says whether a value is in the
  common form, ``copy_sql`` formats it as PostgreSQL text right inside SQLite (where it is
  cheapest), and :func:`finish_line` escapes the whole COPY line in Python (C-speed searches);
- the copier's slow path in Python, :meth:`Conversion.convert`, the reference implementation,
  used for every value the fast path does not claim. It returns the text or raises
  :class:`Reject`;
- verify's canonical form (:mod:`vendzz_migrate.typemap.canonical`): :meth:`Conversion.canon`
  from the converted text (the reference), :meth:`Conversion.pg_canon_sql` the same in
  PostgreSQL, and ONE fast tier that may answer "unsure" (the reference then decides): SQLite
  SQL (:meth:`Conversion.canon_sql`) or, for what SQLite cannot print, Python or C
  (:meth:`Conversion.fast_canon`).

The paths must agree wherever a fast one answers; property tests check that. A value that
neither copier path can convert costs its own row (it goes to ``vendzz_migrate.rejects``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from vendzz_migrate.typemap import canonical, values
from vendzz_migrate.typemap.canonical import MAX_MICROS, MIN_MICROS
from vendzz_migrate.typemap.values import Raw

Reject = values.Reject  # defined beside Raw (canonical raises it too); the same class
EPOCH = canonical.EPOCH

SECONDS_LIMIT = 100_000_000_000  # below: epoch seconds (until year 5138)
MS_LIMIT = 100_000_000_000_000  # below: epoch milliseconds
# THE epoch rule, for the copier and verify, in Python and in SQL: an epoch number whose
# magnitude is below the limit is in that unit (microseconds per unit), told apart per value
EPOCH_UNITS: tuple[tuple[int, int], ...] = ((SECONDS_LIMIT, 1_000_000), (MS_LIMIT, 1_000))
# (canonical bytes of a non-NULL value as read: typeof() as bytes, the value) or None: unsure
FastCanon = Callable[[bytes, Any], "bytes | None"]
FAST_REAL_MIN = 1e-12  # SQLite's printf('%!.17g') round-trips exactly in this range (tested)
FAST_REAL_MAX = 1e15
_INT_TEXT = re.compile(rb"\s*[+-]?\d+\s*")
_NUM_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)\s*")
_INFINITY = {
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
}
_ISO_Z = (
    "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z"
)
_SQL_DT = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
ISO_Z_GLOB, SQL_DATETIME_GLOB = _ISO_Z, _SQL_DT  # the two text forms of a Vendzz timestamp
INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "int2": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "int": (-(2**31), 2**31 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
    "int8": (-(2**63), 2**63 - 1),
}


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


def copy_escape(text: str) -> str:
    """Escape text for PostgreSQL COPY text format."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


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
    not a separator), a NUL byte (PostgreSQL text cannot hold it) or a 0xFF byte (the NULL
    mark: the mark count must be the NULL count for every mark to be a NULL)."""
    if line.count(b"\t") != max(fields - 1, 0) or b"\x00" in line:
        return None
    if nulls and line.count(NULL_FIELD) != nulls:
        return None
    if b"\\" in line:
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


def epoch_scale(value: int | float) -> int | None:
    """Microseconds per unit of an epoch number (:data:`EPOCH_UNITS`); None: too large."""
    magnitude = abs(value)
    for limit, scale in EPOCH_UNITS:
        if magnitude < limit:
            return scale
    return None


def epoch_sql(col: str, then: Callable[[int, int], str]) -> str:
    """:data:`EPOCH_UNITS` in SQLite SQL: ``then(limit, scale)`` for an integer ``col`` in
    each unit, NULL beyond."""
    whens = " ".join(
        f"WHEN {col} > -{limit} AND {col} < {limit} THEN {then(limit, scale)}"
        for limit, scale in EPOCH_UNITS
    )
    return f"CASE {whens} END"


class Conversion:
    """Base: subclasses define the fast path (SQL) and the reference slow path (Python)."""

    kind: Kind
    natural: tuple[str, ...] = ()  # storage classes that need no change of form
    text_is_canon = False  # a valid UTF-8 text value without NUL is its own canonical form

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        self.pg_type = pg_type
        self.not_null = not_null
        self.on_error = on_error

    # -- fast path -------------------------------------------------------------------------
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

    # -- slow path -------------------------------------------------------------------------
    def convert(self, raw: Raw) -> str:
        """Reference conversion of a non-NULL value to its PostgreSQL text (unescaped)."""
        raise NotImplementedError

    # -- composition -----------------------------------------------------------------------
    def field_sql(self, col: str) -> str:
        """The column's field of a fast-path line (see :func:`line_sql`): NULL as 0xFF."""
        if self.not_null:  # a NULL fails row_ok_sql: the row has no fast line
            return self.copy_sql(col)
        return f"CASE WHEN {col} IS NULL THEN X'FF' ELSE {self.copy_sql(col)} END"

    def row_ok_sql(self, col: str) -> str:
        null_ok = "0" if self.not_null else "1"
        return f"(CASE WHEN {col} IS NULL THEN {null_ok} ELSE ({self.ok_sql(col)}) END)"

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

    @staticmethod
    def pg_canon_sql(col: str) -> str:
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


class TextConversion(Conversion):
    kind = Kind.TEXT
    natural = ("text",)

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        super().__init__(pg_type, not_null, on_error)
        match = re.fullmatch(
            r"\s*(?:character varying|varchar|char|character)\s*\((\d+)\)\s*", pg_type, re.I
        )
        self.max_length = int(match.group(1)) if match else None
        self.is_uuid = bool(canonical.UUID_TYPE.fullmatch(pg_type))
        self.text_is_canon = self.max_length is None and not self.is_uuid

    def ok_sql(self, col: str) -> str:
        length = f" AND length({col}) <= {self.max_length}" if self.max_length else ""
        return f"typeof({col}) IN ('text', 'integer'){length}"

    def row_ok_sql(self, col: str) -> str:
        if self.max_length:
            return super().row_ok_sql(col)
        kinds = "'text', 'integer'" + ("" if self.not_null else ", 'null'")
        return f"typeof({col}) IN ({kinds})"

    def copy_sql(self, col: str) -> str:
        return col  # || gives an integer its decimal text

    def field_sql(self, col: str) -> str:
        return col if self.not_null else f"coalesce({col}, X'FF')"

    def convert(self, raw: Raw) -> str:
        if raw.kind == "integer":
            text = str(raw.value)
        elif raw.kind == "real":
            assert isinstance(raw.value, float)
            text = float_text(raw.value)
        else:
            text = decode_text(raw)
        if self.max_length is not None and len(text) > self.max_length:
            raise Reject(f"text of {len(text)} characters is longer than {self.pg_type}")
        return text

    def canon(self, text: str) -> str:
        return canonical.text_canon(text, self.is_uuid)

    def canon_sql(self, col: str) -> str | None:
        if not self.text_is_canon:
            return None
        # an integer: its decimal text; NUL, 0xFF and 0xFE bytes are left to verify's row
        # check (vendzz_migrate.verify.litesql.assemble)
        return f"WHEN 'text' THEN X'FF' || {col} WHEN 'integer' THEN X'FF' || {col}"


class IntegerConversion(Conversion):
    kind = Kind.INTEGER
    natural = ("integer",)

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        super().__init__(pg_type, not_null, on_error)
        self.low, self.high = INT_RANGES.get(pg_type.strip().lower(), INT_RANGES["bigint"])

    def ok_sql(self, col: str) -> str:
        return f"typeof({col}) = 'integer' AND {col} BETWEEN {self.low} AND {self.high}"

    def copy_sql(self, col: str) -> str:
        return col  # || gives it its decimal text

    def field_sql(self, col: str) -> str:
        return col if self.not_null else f"coalesce({col}, X'FF')"

    def convert(self, raw: Raw) -> str:
        value: int
        if raw.kind == "integer":
            assert isinstance(raw.value, int)
            value = raw.value
        elif raw.kind == "real":
            assert isinstance(raw.value, float)
            if not math.isfinite(raw.value) or raw.value != int(raw.value):
                raise Reject(f"{float_text(raw.value)} is not an integer")
            value = int(raw.value)
        elif raw.kind == "text" and isinstance(raw.value, bytes) and _INT_TEXT.fullmatch(raw.value):
            value = int(raw.value)
        else:
            raise Reject(f"{_preview(raw)} is not an integer")
        if not self.low <= value <= self.high:
            raise Reject(f"{value} is out of range for {self.pg_type}")
        return str(value)

    def canon_sql(self, col: str) -> str:
        if (self.low, self.high) == INT_RANGES["bigint"]:
            return f"WHEN 'integer' THEN X'FF' || {col}"
        return (
            f"WHEN 'integer' THEN CASE WHEN {col} BETWEEN {self.low} AND {self.high}"
            f" THEN X'FF' || {col} END"
        )


class FloatConversion(Conversion):
    kind = Kind.FLOAT
    natural = ("real", "integer")

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        super().__init__(pg_type, not_null, on_error)
        self.single = bool(canonical.SINGLE_TYPE.fullmatch(pg_type))  # real: float4

    def ok_sql(self, col: str) -> str:
        # CASE keeps abs() away from integers (abs(-2**63) overflows); zero is left to Python,
        # as SQLite cannot print the sign of -0.0
        return (
            f"CASE typeof({col}) WHEN 'real' THEN abs({col}) BETWEEN {FAST_REAL_MIN!r}"
            f" AND {FAST_REAL_MAX!r} WHEN 'integer' THEN {col} BETWEEN -9007199254740992"
            f" AND 9007199254740992 ELSE 0 END"
        )

    def copy_sql(self, col: str) -> str:
        return (
            f"CASE WHEN typeof({col}) = 'integer' THEN CAST({col} AS TEXT)"
            f" ELSE printf('%!.17g', {col}) END"
        )

    def convert(self, raw: Raw) -> str:
        return float_text(_to_float(raw))

    def canon(self, text: str) -> str:
        return canonical.float_canon(text, self.single)

    @staticmethod
    def pg_canon_sql(col: str) -> str:
        return (
            f"CASE WHEN {col} = 'NaN' THEN 'nan' ELSE encode(float8send({col}::float8), 'hex') END"
        )

    def fast_canon(self) -> FastCanon | None:
        return None if self.single else canonical.double_bits


class DecimalConversion(Conversion):
    kind = Kind.DECIMAL
    natural = ("real", "integer")

    def __init__(
        self, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
    ) -> None:
        super().__init__(pg_type, not_null, on_error)
        match = re.fullmatch(
            r"\s*(?:numeric|decimal)\s*(?:\((\d+)\s*(?:,\s*(\d+))?\))?\s*", pg_type, re.I
        )
        self.precision = int(match.group(1)) if match and match.group(1) else None
        self.scale = int(match.group(2)) if match and match.group(2) else 0

    def ok_sql(self, col: str) -> str:
        if self.precision is None:
            return f"typeof({col}) = 'integer'"
        limit = 10 ** (self.precision - self.scale)
        return (
            f"CASE typeof({col}) WHEN 'integer' THEN {col} > -{limit} AND {col} < {limit}"
            f" WHEN 'real' THEN round({col}, {self.scale}) = {col}"
            f" AND abs({col}) < {min(limit, 10**15)} ELSE 0 END"
        )

    def copy_sql(self, col: str) -> str:
        if self.precision is None:
            return f"CAST({col} AS TEXT)"
        return (
            f"CASE WHEN typeof({col}) = 'integer' THEN CAST({col} AS TEXT)"
            f" ELSE printf('%.{self.scale}f', {col}) END"
        )

    def convert(self, raw: Raw) -> str:
        if raw.kind == "integer":
            number = Decimal(str(raw.value))
        elif raw.kind == "real":
            assert isinstance(raw.value, float)
            if not math.isfinite(raw.value):
                raise Reject(f"{float_text(raw.value)} does not fit {self.pg_type}")
            number = Decimal(repr(raw.value))
        else:
            number = _decimal_text(raw)
        return self._fit(number)

    def _fit(self, number: Decimal) -> str:
        if not number.is_finite():
            if self.precision is None:
                return "NaN" if number.is_nan() else ("Infinity" if number > 0 else "-Infinity")
            raise Reject(f"{number} does not fit {self.pg_type}")
        if self.precision is None:
            return format(number, "f")
        quantum = Decimal(1).scaleb(-self.scale)
        fitted = number.quantize(quantum)
        if fitted != number:
            raise Reject(f"{number} has more than {self.scale} decimals ({self.pg_type})")
        if abs(fitted) >= Decimal(10) ** (self.precision - self.scale):
            raise Reject(f"{number} is too large for {self.pg_type}")
        return format(fitted, "f")

    def canon(self, text: str) -> str:
        return canonical.decimal_canon(text)

    @staticmethod
    def pg_canon_sql(col: str) -> str:
        return f"trim_scale({col})::text"


class BooleanConversion(Conversion):
    kind = Kind.BOOLEAN
    natural = ()
    _TEXT: ClassVar[dict[bytes, str]] = {
        b"0": "f",
        b"1": "t",
        b"false": "f",
        b"true": "t",
        b"f": "f",
        b"t": "t",
    }

    def ok_sql(self, col: str) -> str:
        return f"typeof({col}) = 'integer' AND {col} IN (0, 1)"

    def copy_sql(self, col: str) -> str:
        return f"CASE {col} WHEN 1 THEN 't' ELSE 'f' END"

    def convert(self, raw: Raw) -> str:
        if raw.kind in ("integer", "real") and raw.value in (0, 1):
            return "t" if raw.value == 1 else "f"
        if raw.kind == "text" and isinstance(raw.value, bytes):
            found = self._TEXT.get(raw.value.strip().lower())
            if found is not None:
                return found
        raise Reject(f"{_preview(raw)} is not a boolean (0/1)")

    def canon(self, text: str) -> str:
        return "true" if text == "t" else "false"

    def canon_sql(self, col: str) -> str:
        return (
            f"WHEN 'integer' THEN CASE {col} WHEN 1 THEN X'FF74727565'"  # 0xFF 'true'
            f" WHEN 0 THEN X'FF66616C7365' END"
        )  # 0xFF 'false'


class TimestampConversion(Conversion):
    """Epoch seconds / milliseconds (told apart per value), ISO-8601 and SQL datetime text."""

    kind = Kind.TIMESTAMP
    natural = ()

    def ok_sql(self, col: str) -> str:
        return (
            f"(typeof({col}) = 'integer' AND {col} >= 0 AND {col} < {EPOCH_UNITS[-1][0]})"
            f" OR (typeof({col}) = 'text' AND ({col} GLOB '{_ISO_Z}' OR {col} GLOB '{_SQL_DT}')"
            f" AND datetime({col}) = substr(replace({col}, 'T', ' '), 1, 19))"
        )

    def copy_sql(self, col: str) -> str:
        # datetime() is cheaper than strftime(); substr(1000 + ms, 2) is a 3-digit ms part
        unit_text = {
            1_000_000: f"datetime({col}, 'unixepoch') || '+00'",
            1_000: f"datetime({col} / 1000, 'unixepoch') || '.' || substr(1000 + {col} % 1000, 2)"
            f" || '+00'",
        }
        return (
            f"CASE WHEN typeof({col}) = 'text' THEN replace(replace({col}, 'T', ' '), 'Z',"
            f" '') || '+00' ELSE {epoch_sql(col, lambda _, scale: unit_text[scale])} END"
        )

    def convert(self, raw: Raw) -> str:
        moment = parse_timestamp(raw)
        return moment.isoformat(sep=" ")

    def canon(self, text: str) -> str:
        return canonical.timestamp_canon(text)

    @staticmethod
    def pg_canon_sql(col: str) -> str:
        return (
            f"CASE WHEN isfinite({col}) THEN (extract(epoch FROM {col}) * 1000000)::bigint"
            f"::text ELSE {col}::text END"
        )

    def canon_sql(self, col: str) -> str:
        """Epoch integers (:data:`EPOCH_UNITS`) whose microseconds PostgreSQL can hold, and
        the two text forms the service writes: JavaScript's ``toISOString()``
        (``2025-06-20T17:31:04.000Z``) and SQLite's ``CURRENT_TIMESTAMP``
        (``2025-06-20 17:31:04``); a date SQLite would normalise (Feb 30, 24:00) or year
        0000 (Python refuses it) gives NULL, and the reference decides."""

        def micros(limit: int, scale: int) -> str:
            low = max(-(limit - 1), -(-MIN_MICROS // scale))  # ceil(MIN_MICROS / scale)
            high = min(limit - 1, MAX_MICROS // scale)
            return f"CASE WHEN {col} BETWEEN {low} AND {high} THEN X'FF' || ({col} * {scale}) END"

        iso, plain = f"substr({col}, 1, 19)", f"replace(substr({col}, 1, 19), 'T', ' ')"
        valid = f"substr({col}, 1, 4) <> '0000' AND datetime({iso}, '+0 seconds') = {plain}"
        seconds = f"CAST(strftime('%s', {iso}) AS INTEGER) * 1000000"
        return (
            f"WHEN 'integer' THEN {epoch_sql(col, micros)}"
            f" WHEN 'text' THEN CASE WHEN {col} GLOB '{_ISO_Z}' AND {valid} THEN X'FF' ||"
            f" ({seconds} + CAST(substr({col}, 21, 3) AS INTEGER) * 1000)"
            f" WHEN {col} GLOB '{_SQL_DT}' AND {valid} THEN X'FF' || ({seconds}) END"
        )


class JsonConversion(Conversion):
    """JSON text to jsonb; double (or deeper) encoded objects and arrays are unwrapped."""

    kind = Kind.JSON
    natural = ("text",)

    def ok_sql(self, col: str) -> str:
        # An object or array goes as it is: PostgreSQL's jsonb input validates it, and one that
        # is not valid JSON (or holds \u0000) is refused on its COPY line and quarantined.
        # Strings (maybe double-encoded), scalars and anything odd go to Python.
        return f"typeof({col}) = 'text' AND substr({col}, 1, 1) IN ('{{', '[')"

    def copy_sql(self, col: str) -> str:
        return col

    def field_sql(self, col: str) -> str:
        return col if self.not_null else f"coalesce({col}, X'FF')"

    def changed_form(self, raw: Raw, text: str) -> bool:
        return raw.kind != "text" or text.encode("utf-8") != raw.value  # e.g. unwrapped

    def convert(self, raw: Raw) -> str:
        if raw.kind != "text":
            raise Reject(f"{_preview(raw)} is not JSON text")
        return unwrap_json(decode_text(raw))

    def canon(self, text: str) -> str:
        return canonical.jsonb_canon(text)

    @staticmethod
    def pg_canon_sql(col: str) -> str:
        return f"{col}::jsonb::text"

    def fast_canon(self) -> FastCanon:
        return canonical.jsonb_fast


LARGE_BLOB = 1 << 20  # bytes; verify hashes larger blobs in Python, a piece at a time


class BytesConversion(Conversion):
    kind = Kind.BYTES
    natural = ("blob",)

    def ok_sql(self, col: str) -> str:
        return f"typeof({col}) = 'blob'"

    def copy_sql(self, col: str) -> str:
        return f"'\\x' || hex({col})"

    def convert(self, raw: Raw) -> str:
        if raw.kind in ("blob", "text"):
            assert isinstance(raw.value, bytes)
            return "\\x" + raw.value.hex().upper()
        raise Reject(f"{_preview(raw)} is not binary data")

    def canon(self, text: str) -> str:
        return text[2:].lower()

    @staticmethod
    def pg_canon_sql(col: str) -> str:
        return f"encode({col}, 'hex')"

    def canon_sql(self, col: str) -> str:
        # a large blob goes the Python path (verify.lite.row_digest hashes it piece by piece):
        # SQLite would hold its hex text several times over, 10x the value in all
        return (
            f"WHEN 'blob' THEN CASE WHEN length({col}) <= {LARGE_BLOB} THEN"
            f" X'FF' || lower(hex({col})) END"
        )


CONVERSIONS: dict[Kind, type[Conversion]] = {
    Kind.TEXT: TextConversion,
    Kind.INTEGER: IntegerConversion,
    Kind.FLOAT: FloatConversion,
    Kind.DECIMAL: DecimalConversion,
    Kind.BOOLEAN: BooleanConversion,
    Kind.TIMESTAMP: TimestampConversion,
    Kind.JSON: JsonConversion,
    Kind.BYTES: BytesConversion,
}


def make(
    kind: Kind, pg_type: str, not_null: bool = False, on_error: OnError = OnError.REJECT
) -> Conversion:
    return CONVERSIONS[kind](pg_type, not_null, on_error)


# -- shared helpers -------------------------------------------------------------------------


def parse_timestamp(raw: Raw) -> datetime:
    """Classify and parse one timestamp value (UTC); raises Reject when it is not one."""
    if raw.kind in ("integer", "real"):
        assert isinstance(raw.value, int | float)
        return epoch_to_datetime(raw.value)
    if raw.kind != "text":
        raise Reject(f"{_preview(raw)} is not a timestamp")
    text = decode_text(raw).strip()
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return epoch_to_datetime(float(text) if "." in text else int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Reject(f"{text[:40]!r} is not a timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_to_datetime(value: int | float) -> datetime:
    """Epoch seconds below 1e11, milliseconds below 1e14 (:data:`EPOCH_UNITS`)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Reject(f"{float_text(value)} is not a timestamp")
    scale = epoch_scale(value)
    if scale is None:
        raise Reject(f"{value} is too large for epoch seconds or milliseconds")
    micros = round(Decimal(repr(value) if isinstance(value, float) else value) * scale)
    try:
        return EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        raise Reject(f"{value} is out of the timestamp range") from None


def unwrap_json(text: str) -> str:
    """Validate JSON text and unwrap objects/arrays that were JSON-encoded again as strings."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise Reject("invalid JSON") from None
    current = text
    while isinstance(value, str):
        try:
            inner = json.loads(value, parse_constant=_no_constant)
        except ValueError:
            break
        if not isinstance(inner, dict | list | str):
            break
        current, value = value, inner
    return current if isinstance(value, dict | list) else text


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _to_float(raw: Raw) -> float:
    if raw.kind in ("integer", "real"):
        assert isinstance(raw.value, int | float)
        if raw.kind == "integer" and abs(int(raw.value)) > 2**53:
            raise Reject(f"{raw.value} cannot be held exactly by double precision")
        return float(raw.value)
    if raw.kind == "text":
        text = decode_text(raw).strip()
        special = _INFINITY.get(text.lower())
        if special is not None:
            return special
        if text.lower() == "nan":
            return math.nan
        if _NUM_TEXT.fullmatch(text):
            return float(text)
    raise Reject(f"{_preview(raw)} is not a number")


def _decimal_text(raw: Raw) -> Decimal:
    if raw.kind != "text":
        raise Reject(f"{_preview(raw)} is not a number")
    text = decode_text(raw).strip()
    special = text.lower().lstrip("+-") in {"inf", "infinity", "nan"}
    if not _NUM_TEXT.fullmatch(text) and not special:
        raise Reject(f"{text[:40]!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Reject(f"{text[:40]!r} is not a number") from None


def _preview(raw: Raw) -> str:
    if isinstance(raw.value, bytes):
        shown = raw.value[:40].decode("utf-8", "backslashreplace")
        return f"{raw.kind} {shown!r}"
    return f"{raw.kind} {raw.value!r}"
