"""Numbers and flags: integer (int2/4/8 range checked), double precision and real (exact round
trip), numeric (no digit lost), boolean (0/1)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.conversions.base import (
    Conversion,
    Encoding,
    FastCanon,
    Kind,
    PgValue,
    Reject,
    decode_text,
    float_text,
    preview,
)
from vendzz_migrate.typemap.values import Raw

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
INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "int2": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "int": (-(2**31), 2**31 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
    "int8": (-(2**63), 2**63 - 1),
}
# a boolean written as text: its spelling (the encoding's form) -> (true, false)
BOOL_FORMS = {
    "1": ("1", "0"),
    "true": ("true", "false"),
    "t": ("t", "f"),
    "TRUE": ("TRUE", "FALSE"),
    "True": ("True", "False"),
}


class IntegerConversion(Conversion):
    kind = Kind.INTEGER
    natural = ("integer",)

    def read_type(self) -> None:
        self.low, self.high = INT_RANGES.get(self.pg_type.strip().lower(), INT_RANGES["bigint"])

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
            raise Reject(f"{preview(raw)} is not an integer")
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

    def exact(self, raw: Raw) -> bool:
        return raw.kind == "integer"


class _Inexact(Conversion):
    """float and numeric: beyond a double, a value may come back as an integer or as text."""

    def fallback_encodings(self) -> tuple[Encoding, ...]:
        return (self.default_encoding(), Encoding("integer"), Encoding("text"))


class FloatConversion(_Inexact):
    kind = Kind.FLOAT
    natural = ("real", "integer")

    def read_type(self) -> None:
        self.single = bool(canonical.SINGLE_TYPE.fullmatch(self.pg_type))  # real: float4

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

    def pg_canon_sql(self, col: str) -> str:
        return (
            f"CASE WHEN {col} = 'NaN' THEN 'nan' ELSE encode(float8send({col}::float8), 'hex') END"
        )

    def fast_canon(self) -> FastCanon | None:
        return None if self.single else canonical.double_bits


class DecimalConversion(_Inexact):
    kind = Kind.DECIMAL
    natural = ("real", "integer")

    def read_type(self) -> None:
        match = re.fullmatch(
            r"\s*(?:numeric|decimal)\s*(?:\((\d+)\s*(?:,\s*(\d+))?\))?\s*", self.pg_type, re.I
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

    def pg_canon_sql(self, col: str) -> str:
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
        raise Reject(f"{preview(raw)} is not a boolean (0/1)")

    def canon(self, text: str) -> str:
        return "true" if text == "t" else "false"

    def canon_sql(self, col: str) -> str:
        return (
            f"WHEN 'integer' THEN CASE {col} WHEN 1 THEN X'FF74727565'"  # 0xFF 'true'
            f" WHEN 0 THEN X'FF66616C7365' END"
        )  # 0xFF 'false'

    def encoding_of(self, raw: Raw) -> Encoding | None:
        if raw.kind != "text":
            return super().encoding_of(raw)
        assert isinstance(raw.value, bytes)
        word = raw.value.decode("utf-8", "replace").strip()
        return Encoding("text", next((k for k, pair in BOOL_FORMS.items() if word in pair), "1"))

    def default_encoding(self, declared: str = "") -> Encoding:  # noqa: ARG002
        return Encoding("integer")

    def fallback_encodings(self) -> tuple[Encoding, ...]:
        return ()

    def reverse_value(self, value: PgValue, enc: Encoding) -> Raw:
        assert isinstance(value, bool)
        if enc.storage == "text":
            yes, no = BOOL_FORMS.get(enc.form, ("1", "0"))
            return Raw.of(yes if value else no)
        return Raw("integer", int(value))

    def exact(self, raw: Raw) -> bool:
        return raw.kind in ("text", "integer")


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
    raise Reject(f"{preview(raw)} is not a number")


def _decimal_text(raw: Raw) -> Decimal:
    if raw.kind != "text":
        raise Reject(f"{preview(raw)} is not a number")
    text = decode_text(raw).strip()
    special = text.lower().lstrip("+-") in {"inf", "infinity", "nan"}
    if not _NUM_TEXT.fullmatch(text) and not special:
        raise Reject(f"{text[:40]!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Reject(f"{text[:40]!r} is not a number") from None
