"""Raw SQLite values: how they are read, and how they are kept losslessly in the rejects table.

The copier reads SQLite with ``text_factory=bytes`` so invalid UTF-8 never breaks a read; each
value therefore travels with its storage class (``typeof()``): a :class:`Raw`.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

StorageClass = str  # 'null' | 'integer' | 'real' | 'text' | 'blob'


@dataclass(frozen=True, slots=True)
class Raw:
    """One SQLite value with its storage class; text and blob values are bytes."""

    kind: StorageClass
    value: int | float | bytes | None

    @classmethod
    def of(cls, value: int | float | str | bytes | None) -> Raw:
        """Build from a Python value (for tests and callers that hold decoded text)."""
        if value is None:
            return cls("null", None)
        if isinstance(value, bool):
            return cls("integer", int(value))
        if isinstance(value, int):
            return cls("integer", value)
        if isinstance(value, float):
            return cls("real", value)
        if isinstance(value, str):
            return cls("text", value.encode("utf-8", "surrogatepass"))
        return cls("blob", bytes(value))


class Reject(Exception):
    """The value cannot be converted as the mapping asks; its row goes to the rejects table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_raw(raw: Raw) -> dict[str, Any]:
    """A JSON-safe, lossless encoding of a raw value (for ``vendzz_migrate.rejects``)."""
    if raw.kind == "null":
        return {"type": "null"}
    if raw.kind == "integer":
        return {"type": "integer", "value": str(raw.value)}
    if raw.kind == "real":
        assert isinstance(raw.value, float)
        return {"type": "real", "value": _float_text(raw.value)}
    assert isinstance(raw.value, bytes)
    if raw.kind == "text":
        try:
            text = raw.value.decode("utf-8")
        except UnicodeDecodeError:
            return {"type": "text", "base64": base64.b64encode(raw.value).decode()}
        if "\x00" in text:
            return {"type": "text", "base64": base64.b64encode(raw.value).decode()}
        return {"type": "text", "value": text}
    return {"type": "blob", "base64": base64.b64encode(raw.value).decode()}


def decode_raw(data: dict[str, Any]) -> Raw:
    """Inverse of :func:`encode_raw`."""
    kind = data["type"]
    if kind == "null":
        return Raw("null", None)
    if kind == "integer":
        return Raw("integer", int(data["value"]))
    if kind == "real":
        return Raw("real", float(data["value"]))
    if "base64" in data:
        return Raw(kind, base64.b64decode(data["base64"]))
    return Raw(kind, str(data["value"]).encode("utf-8"))


def _float_text(value: float) -> str:
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)
