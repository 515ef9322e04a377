"""Text: text, varchar(n) (never cut: longer text is rejected), uuid, citext."""

from __future__ import annotations

import re

from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.conversions.base import (
    Conversion,
    Encoding,
    Kind,
    PgValue,
    Reject,
    decode_text,
    float_text,
    reverse_scalar,
)
from vendzz_migrate.typemap.values import Raw


class TextConversion(Conversion):
    kind = Kind.TEXT
    natural = ("text",)

    def read_type(self) -> None:
        match = re.fullmatch(
            r"\s*(?:character varying|varchar|char|character)\s*\((\d+)\)\s*", self.pg_type, re.I
        )
        self.max_length = int(match.group(1)) if match else None
        self.is_uuid = bool(canonical.UUID_TYPE.fullmatch(self.pg_type))
        self.text_is_canon = self.max_length is None and not self.is_uuid

    # -- forward -----------------------------------------------------------------------------
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

    # -- canonical ---------------------------------------------------------------------------
    def canon(self, text: str) -> str:
        return canonical.text_canon(text, self.is_uuid)

    def canon_sql(self, col: str) -> str | None:
        if not self.text_is_canon:
            return None
        # an integer: its decimal text; NUL, 0xFF and 0xFE bytes are left to verify's row
        # check (vendzz_migrate.verify.litesql.assemble)
        return f"WHEN 'text' THEN X'FF' || {col} WHEN 'integer' THEN X'FF' || {col}"

    # -- reverse -----------------------------------------------------------------------------
    def reverse_value(self, value: PgValue, enc: Encoding) -> Raw:
        return reverse_scalar(value if isinstance(value, str) else str(value), enc)

    def exact(self, raw: Raw) -> bool:
        return raw.kind in ("text", "integer")
