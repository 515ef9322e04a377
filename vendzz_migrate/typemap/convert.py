"""The conversions' public names in one import (they live in :mod:`.conversions`, one module
per kind of value: forward, canonical form and reverse together)."""

from __future__ import annotations

from vendzz_migrate.typemap.conversions import make
from vendzz_migrate.typemap.conversions.base import (
    Canon,
    Conversion,
    Encoding,
    FastCanon,
    Kind,
    OnError,
    PgValue,
    Reject,
    Unfit,
    copy_escape,
    finish_line,
    kind_for,
    line_sql,
)
from vendzz_migrate.typemap.conversions.binary import LARGE_BLOB
from vendzz_migrate.typemap.conversions.jsonb import compact_json, unwrap_json
from vendzz_migrate.typemap.conversions.temporal import (
    EPOCH_UNITS,
    epoch_scale,
    epoch_sql,
    epoch_to_datetime,
)

__all__ = [
    "EPOCH_UNITS",
    "LARGE_BLOB",
    "Canon",
    "Conversion",
    "Encoding",
    "FastCanon",
    "Kind",
    "OnError",
    "PgValue",
    "Reject",
    "Unfit",
    "compact_json",
    "copy_escape",
    "epoch_scale",
    "epoch_sql",
    "epoch_to_datetime",
    "finish_line",
    "kind_for",
    "line_sql",
    "make",
    "unwrap_json",
]
