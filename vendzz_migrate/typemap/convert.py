"""The conversions' public names in one import (they live in :mod:`.conversions`, one module
per kind of value: forward, canonical form and reverse together)."""

from __future__ import annotations

from vendzz_migrate.typemap.conversions import CONVERSIONS, make
from vendzz_migrate.typemap.conversions.base import (
    EPOCH,
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
    decode_text,
    finish_line,
    float_text,
    kind_for,
    line_sql,
)
from vendzz_migrate.typemap.conversions.binary import LARGE_BLOB, BytesConversion
from vendzz_migrate.typemap.conversions.jsonb import JsonConversion, compact_json, unwrap_json
from vendzz_migrate.typemap.conversions.numeric import (
    FAST_REAL_MAX,
    FAST_REAL_MIN,
    INT_RANGES,
    BooleanConversion,
    DecimalConversion,
    FloatConversion,
    IntegerConversion,
)
from vendzz_migrate.typemap.conversions.temporal import (
    EPOCH_UNITS,
    ISO_Z_GLOB,
    MS_LIMIT,
    SECONDS_LIMIT,
    SQL_DATETIME_GLOB,
    TimestampConversion,
    epoch_scale,
    epoch_sql,
    epoch_to_datetime,
    parse_timestamp,
)
from vendzz_migrate.typemap.conversions.text import TextConversion

__all__ = [
    "CONVERSIONS",
    "EPOCH",
    "EPOCH_UNITS",
    "FAST_REAL_MAX",
    "FAST_REAL_MIN",
    "INT_RANGES",
    "ISO_Z_GLOB",
    "LARGE_BLOB",
    "MS_LIMIT",
    "SECONDS_LIMIT",
    "SQL_DATETIME_GLOB",
    "BooleanConversion",
    "BytesConversion",
    "Canon",
    "Conversion",
    "DecimalConversion",
    "Encoding",
    "FastCanon",
    "FloatConversion",
    "IntegerConversion",
    "JsonConversion",
    "Kind",
    "OnError",
    "PgValue",
    "Reject",
    "TextConversion",
    "TimestampConversion",
    "Unfit",
    "compact_json",
    "copy_escape",
    "decode_text",
    "epoch_scale",
    "epoch_sql",
    "epoch_to_datetime",
    "finish_line",
    "float_text",
    "kind_for",
    "line_sql",
    "make",
    "parse_timestamp",
    "unwrap_json",
]
