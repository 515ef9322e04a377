"""Value conversions, one module per kind of value, each owning its kind's rules in one place:
forward (SQLite SQL fast path and Python reference), verify's canonical form and the reverse
(see :mod:`.base` for the interface). :func:`make` builds the conversion of a column."""

from __future__ import annotations

from vendzz_migrate.typemap.conversions.base import Conversion, Kind, OnError
from vendzz_migrate.typemap.conversions.binary import BytesConversion
from vendzz_migrate.typemap.conversions.jsonb import JsonConversion
from vendzz_migrate.typemap.conversions.numeric import (
    BooleanConversion,
    DecimalConversion,
    FloatConversion,
    IntegerConversion,
)
from vendzz_migrate.typemap.conversions.temporal import TimestampConversion
from vendzz_migrate.typemap.conversions.text import TextConversion

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
