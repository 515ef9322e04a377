"""Values between the API (Python objects), SQLite's encodings and PostgreSQL's types.

Reading: a SQLite value goes through the copy's own reference conversion (so the service reads
exactly what ``sqlite-to-pg`` would have written), then becomes a typed Python value; a
PostgreSQL value is typed already. Writing: a typed value becomes epoch seconds or milliseconds,
JSON text and 0/1 on SQLite, and timestamptz / jsonb / boolean values on PostgreSQL.
Rendering: a row becomes the JSON ``row_to_json()`` prints, which is what warm-cache stores.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from examples.service.schema import Col
from vendzz_migrate.typemap.convert import Kind, Reject
from vendzz_migrate.typemap.values import Raw


def _raw(value: Any) -> Raw:
    if isinstance(value, str):
        return Raw("text", value.encode("utf-8", "surrogateescape"))
    return Raw.of(value)


def from_sqlite(col: Col, value: Any) -> Any:
    """A stored SQLite value as the typed value its PostgreSQL copy holds."""
    if value is None or col.conversion is None:
        return value
    try:
        text = col.conversion.convert(_raw(value))
    except Reject:  # the copy would have quarantined the row: hand the value back as stored
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return _typed(col.kind, text)


def _typed(kind: Kind, text: str) -> Any:
    if kind is Kind.INTEGER:
        return int(text)
    if kind is Kind.FLOAT:
        return float(text)
    if kind is Kind.DECIMAL:
        return Decimal(text)
    if kind is Kind.BOOLEAN:
        return text == "t"
    if kind is Kind.TIMESTAMP:
        return datetime.fromisoformat(text).astimezone(UTC)
    if kind is Kind.JSON:
        return json.loads(text)
    if kind is Kind.BYTES:
        return bytes.fromhex(text[2:])
    return text


def to_storage(col: Col, value: Any, sqlite: bool) -> Any:
    """A typed value in the form the column stores on this database."""
    if value is None:
        return None
    kind = col.kind
    if kind is Kind.TIMESTAMP:
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
        if not sqlite:
            return moment
        seconds = moment.timestamp()
        return round(seconds * 1000) if col.epoch_ms else int(seconds)
    if kind is Kind.BOOLEAN:
        flag = bool(value)
        return int(flag) if sqlite else flag
    if kind is Kind.JSON:
        return compact(value) if sqlite else value
    if kind is Kind.INTEGER:
        return int(value)
    if kind is Kind.FLOAT:
        return float(value)
    if isinstance(value, str):
        return value
    return compact(value)


def compact(value: Any) -> str:
    """JSON as JavaScript's JSON.stringify writes it (what Vendzz stores in SQLite)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def pg_timestamp(moment: datetime) -> str:
    """A timestamptz as to_json() prints it in a UTC session: 2024-05-01T12:00:00.5+00:00."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "+00:00"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return pg_timestamp(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "Infinity" if value > 0 else "-Infinity" if value < 0 else "NaN"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    return value


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    """A typed row as the JSON object ``row_to_json()`` builds (nested JSON kept as JSON)."""
    return {name: _jsonable(value) for name, value in row.items()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
