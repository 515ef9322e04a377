"""JSON text to jsonb (double or deeper encoded objects and arrays unwrapped), or to json, kept
verbatim, when the mapping says ``type: json``; and back to the JSON text the column held.

jsonb cannot hold the escape ``\\u0000`` (a NUL character in a string): a document holding it
is rejected with that reason (its row goes to ``vendzz_migrate.rejects``, losslessly; exit 8),
never altered. PostgreSQL's ``json`` type keeps the document's text as it is, ``\\u0000``
included: the mapping's ``type: json`` is the lossless way to keep such documents (README:
JSON and \\u0000), and verify then compares the text byte for byte.
"""

from __future__ import annotations

import json
import re
from typing import Any

from vendzz_migrate.typemap import canonical
from vendzz_migrate.typemap.conversions.base import (
    Conversion,
    Encoding,
    FastCanon,
    Kind,
    PgValue,
    Reject,
    decode_text,
    preview,
)
from vendzz_migrate.typemap.values import Raw

NUL_ESCAPE = "\\u0000"
NUL_REASON = (
    "JSON holds \\u0000, which jsonb cannot store (map the column as type: json to keep"
    " such documents verbatim)"
)
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[^"]+', re.S)


class JsonConversion(Conversion):
    """JSON text to jsonb (canonical: jsonb's own text) or json (canonical: the text)."""

    kind = Kind.JSON
    natural = ("text",)

    def read_type(self) -> None:
        self.verbatim = self.pg_type.strip().lower() == "json"  # json keeps the text as it is

    # -- forward -----------------------------------------------------------------------------
    def ok_sql(self, col: str) -> str:
        # An object or array goes as it is: PostgreSQL's input validates it, and one that is
        # not valid JSON is refused on its COPY line and quarantined (a line holding \u0000,
        # which jsonb cannot hold, finish_line leaves to Python, which gives the reason).
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
            raise Reject(f"{preview(raw)} is not JSON text")
        text = unwrap_json(decode_text(raw))
        if not self.verbatim and NUL_ESCAPE in text and _holds_nul(json.loads(text)):
            raise Reject(NUL_REASON)
        return text

    # -- canonical ---------------------------------------------------------------------------
    def canon(self, text: str) -> str:
        return text if self.verbatim else canonical.jsonb_canon(text)

    def pg_canon_sql(self, col: str) -> str:
        return f"{col}::text" if self.verbatim else f"{col}::jsonb::text"

    def fast_canon(self) -> FastCanon | None:
        return None if self.verbatim else canonical.jsonb_fast

    # -- reverse -----------------------------------------------------------------------------
    def encoding_of(self, raw: Raw) -> Encoding | None:
        """Text: its number of extra JSON encodings, or ``raw`` (not JSON: kept by wrap)."""
        if raw.kind != "text":
            return super().encoding_of(raw)
        return Encoding("text", _json_form(raw))

    def default_encoding(self, declared: str = "") -> Encoding:  # noqa: ARG002
        return Encoding("text", "0")

    def fallback_encodings(self) -> tuple[Encoding, ...]:
        return ()

    def reverse_value(self, value: PgValue, enc: Encoding) -> Raw:
        """jsonb's text written compact (as JSON.stringify writes it; json's text as it is),
        encoded again as many times as the column's values were, or the raw text that
        ``on_error: wrap`` kept as a string."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out = text if self.verbatim else compact_json(text)
        if enc.form == "raw":
            inner = json.loads(out)
            if isinstance(inner, str) and not _is_json(inner):
                return Raw.of(inner)  # wrapped by on_error: wrap; the raw text comes back
            return Raw.of(out)
        depth = int(enc.form) if enc.form.isdigit() else 0
        if depth and out[:1] in ("{", "["):
            for _ in range(depth):
                out = json.dumps(out, ensure_ascii=False)
        return Raw.of(out)

    def exact(self, raw: Raw) -> bool:
        # the forward rule only ever unwraps strings: an object or array comes back as it is
        return raw.kind == "text" and isinstance(raw.value, bytes) and raw.value[:1] in (b"{", b"[")


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


def compact_json(text: str) -> str:
    """jsonb's text (``{"a": 1, "b": [1, 2]}``) without the whitespace between tokens, as
    JavaScript's JSON.stringify writes it; strings and numbers are kept byte for byte."""
    return "".join(
        tok if tok.startswith('"') else "".join(tok.split()) for tok in _JSON_TOKENS.findall(text)
    )


def _holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds a NUL character in a key or a string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_form(raw: Raw) -> str:
    assert isinstance(raw.value, bytes)
    if raw.value[:1] in (b"{", b"["):
        return "0"  # an object or array as it is (whether valid or not: PostgreSQL decides)
    try:
        value = json.loads(raw.value.decode("utf-8"))
    except ValueError:
        return "raw"
    depth = 0
    while isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            break
        if not isinstance(inner, dict | list | str):
            break
        depth, value = depth + 1, inner
    return str(depth) if isinstance(value, dict | list) else "0"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
