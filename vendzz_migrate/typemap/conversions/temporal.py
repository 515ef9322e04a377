"""Timestamps: epoch seconds / milliseconds (told apart per value: THE epoch rule, once, in
Python and in SQL), ISO-8601 and SQL datetime text, all to timestamptz in UTC; and back into
the unit or text shape the column's own values were written in."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.canonical import MAX_MICROS, MIN_MICROS
from vendzz_migrate.typemap.conversions.base import (
    EPOCH,
    Conversion,
    Encoding,
    Kind,
    PgValue,
    Reject,
    Unfit,
    decode_text,
    float_text,
    preview,
)
from vendzz_migrate.typemap.values import Raw

SECONDS_LIMIT = 100_000_000_000  # below: epoch seconds (until year 5138)
MS_LIMIT = 100_000_000_000_000  # below: epoch milliseconds
# THE epoch rule, for the copier, verify and the rollback, in Python and in SQL: an epoch
# number whose magnitude is below the limit is in that unit (microseconds per unit)
EPOCH_UNITS: tuple[tuple[int, int], ...] = ((SECONDS_LIMIT, 1_000_000), (MS_LIMIT, 1_000))
_UNIT_NAMES = {1_000_000: "s", 1_000: "ms"}
_ISO_Z = (
    "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z"
)
_SQL_DT = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
ISO_Z_GLOB, SQL_DATETIME_GLOB = _ISO_Z, _SQL_DT  # the two text forms of a Vendzz timestamp
_TIME_TEXT = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:(?P<sep>[T ])(?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,6}))?(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH_TEXT = re.compile(r"[+-]?\d+")


def epoch_scale(value: int | float) -> int | None:
    """Microseconds per unit of an epoch number (:data:`EPOCH_UNITS`); None: too large."""
    magnitude = abs(value)
    for limit, scale in EPOCH_UNITS:
        if magnitude < limit:
            return scale
    return None


def epoch_unit(value: int | float) -> str:
    """``s`` or ``ms``: the unit :data:`EPOCH_UNITS` reads an epoch number in (beyond: ms)."""
    return _UNIT_NAMES[epoch_scale(value) or 1_000]


def epoch_sql(col: str, then: Callable[[int, int], str]) -> str:
    """:data:`EPOCH_UNITS` in SQLite SQL: ``then(limit, scale)`` for an integer ``col`` in
    each unit, NULL beyond."""
    whens = " ".join(
        f"WHEN {col} > -{limit} AND {col} < {limit} THEN {then(limit, scale)}"
        for limit, scale in EPOCH_UNITS
    )
    return f"CASE {whens} END"


class TimestampConversion(Conversion):
    """Epoch seconds / milliseconds (told apart per value), ISO-8601 and SQL datetime text."""

    kind = Kind.TIMESTAMP
    natural = ()

    # -- forward -----------------------------------------------------------------------------
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

    # -- canonical ---------------------------------------------------------------------------
    def canon(self, text: str) -> str:
        return canonical.timestamp_canon(text)

    def pg_canon_sql(self, col: str) -> str:
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

    # -- reverse -----------------------------------------------------------------------------
    def encoding_of(self, raw: Raw) -> Encoding | None:
        """Epoch ``s`` / ``ms`` in its storage class, or the shape of its text."""
        if raw.kind == "null":
            return None
        if raw.kind in ("integer", "real"):
            assert isinstance(raw.value, int | float)
            return Encoding(raw.kind, epoch_unit(raw.value))
        assert isinstance(raw.value, bytes)
        text = raw.value.decode("utf-8", "replace").strip()
        if _EPOCH_TEXT.fullmatch(text):
            return Encoding("text", epoch_unit(int(text)))
        match = _TIME_TEXT.fullmatch(text)
        if match is None:
            return Encoding("text", "T3Z")
        if match["sep"] is None:
            return Encoding("text", "date")
        return Encoding("text", f"{match['sep']}{len(match['frac'] or '')}{match['zone'] or ''}")

    def default_encoding(self, declared: str = "") -> Encoding:
        decl = declared.upper()
        if "INT" in decl:
            return Encoding("integer", "s")
        if "DATE" in decl or decl.startswith("NUM"):
            return Encoding("text", " 0")
        return (
            Encoding("text", "T3Z")
            if "CHAR" in decl or "TEXT" in decl
            else Encoding("integer", "s")
        )

    def fallback_encodings(self) -> tuple[Encoding, ...]:
        return ()

    def reverse_value(self, value: PgValue, enc: Encoding) -> Raw:
        moment = moment_of(value)
        if enc.form in _UNIT_NAMES.values():
            return _epoch_back(moment, enc)
        return Raw.of(_time_text(moment, enc.form or "T3Z"))

    def exact(self, raw: Raw) -> bool:
        return raw.kind == "integer"  # range and precision checked by the reverse


# -- forward helpers ------------------------------------------------------------------------------


def parse_timestamp(raw: Raw) -> datetime:
    """Classify and parse one timestamp value (UTC); raises Reject when it is not one."""
    if raw.kind in ("integer", "real"):
        assert isinstance(raw.value, int | float)
        return epoch_to_datetime(raw.value)
    if raw.kind != "text":
        raise Reject(f"{preview(raw)} is not a timestamp")
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


# -- reverse helpers ------------------------------------------------------------------------------


def moment_of(value: PgValue) -> datetime:
    """A PostgreSQL timestamp or date (as psycopg reads it) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise Unfit(f"{value!r} is not a timestamp")


def _epoch_back(moment: datetime, enc: Encoding) -> Raw:
    """The moment as an epoch number in the encoding's unit, which the forward rule
    (:data:`EPOCH_UNITS`) must read back in that same unit."""
    micros = (moment - EPOCH) // timedelta(microseconds=1)
    unit = next(scale for scale, name in _UNIT_NAMES.items() if name == enc.form)
    if enc.storage == "real":
        return Raw("real", micros / unit)
    if micros % unit:
        raise Unfit(f"{moment.isoformat()} has more precision than epoch {enc.form}")
    number = micros // unit
    if epoch_scale(number) != unit:
        other = "milliseconds" if enc.form == "s" else "seconds"
        raise Unfit(f"{moment.isoformat()} in epoch {enc.form} would be read back as {other}")
    return Raw.of(str(number)) if enc.storage == "text" else Raw("integer", number)


def _time_text(moment: datetime, form: str) -> str:
    if form == "date":
        if moment.time() != datetime.min.time():
            raise Unfit(f"{moment.isoformat()} has a time of day that a date column cannot hold")
        return moment.date().isoformat()
    match = re.fullmatch(r"(?P<sep>[T ])(?P<digits>\d)(?P<zone>.*)", form)
    if match is None:
        raise Unfit(f"unknown timestamp form {form!r}")
    digits, zone = int(match["digits"]), match["zone"]
    local = moment.astimezone(_zone(zone)) if zone not in ("", "Z") else moment
    micros = local.microsecond
    if digits < 6 and micros % 10 ** (6 - digits):
        raise Unfit(f"{moment.isoformat()} has more precision than {digits} fraction digits")
    text = local.strftime(f"%Y-%m-%d{match['sep']}%H:%M:%S")
    if digits:
        text += "." + f"{micros:06d}"[:digits]
    return text + zone


def _zone(zone: str) -> timezone:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
