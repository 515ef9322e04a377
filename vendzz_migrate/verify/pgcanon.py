"""The same canonical encoding as :mod:`vendzz_migrate.verify.canon`, as PostgreSQL SQL.

The expression for a column depends on the column's real type in the target (read from the
catalog), so a column created with another type than the mapping says is still compared by
meaning, and the schema check reports the type difference separately.
"""

from __future__ import annotations

from collections.abc import Sequence

from vendzz_migrate.copy.plan import kind_for
from vendzz_migrate.target.ddl import pq
from vendzz_migrate.typemap.convert import Kind


def value_sql(column: str, pg_type: str) -> str:
    """Canonical text of one column (NULL stays NULL)."""
    c = pq(column)
    kind = kind_for(pg_type)
    if kind is Kind.FLOAT:
        return f"CASE WHEN {c} = 'NaN' THEN 'nan' ELSE encode(float8send({c}::float8), 'hex') END"
    if kind is Kind.DECIMAL:
        return f"trim_scale({c})::text"
    if kind is Kind.TIMESTAMP:
        return (f"CASE WHEN isfinite({c}) THEN (extract(epoch FROM {c}) * 1000000)::bigint::text"
                f" ELSE {c}::text END")
    if kind is Kind.JSON:
        return f"{c}::jsonb::text"
    if kind is Kind.BYTES:
        return f"encode({c}, 'hex')"
    return f"{c}::text"  # text, varchar, uuid, integers, boolean ('true' / 'false')


# constants (folded when the query is planned), whatever standard_conforming_strings says
_VALUE, _NULL = "decode('ff', 'hex')", "decode('fe', 'hex')"


def row_sql(columns: Sequence[tuple[str, str]]) -> str:
    """The row's canonical bytes (bytea, as canon.row_bytes): per column, byte 0xFF and the
    value's UTF-8 bytes, or byte 0xFE for NULL. ``textsend`` gives a text's bytes in the
    session's client encoding, which :func:`vendzz_migrate.verify.pgside.open_target` sets to
    UTF8 (``convert_to(v, 'UTF8')`` gives the same bytes, ~15 % slower per row)."""
    if not columns:
        return "''::bytea"
    parts = []
    for name, pg_type in columns:
        v = value_sql(name, pg_type)
        parts.append(f"coalesce({_VALUE} || textsend({v}), {_NULL})")
    return " || ".join(parts)


def hash64_sql(row: str) -> str:
    return f"('x' || left(md5({row}), 16))::bit(64)::bigint"


def key_sql(column: str, pg_type: str) -> str:
    """A key column as compared and ordered: integers as integers, the rest as bytes-ordered
    text (COLLATE "C" orders like SQLite's BINARY)."""
    if kind_for(pg_type) is Kind.INTEGER:
        return pq(column)
    return f'({value_sql(column, pg_type)}) COLLATE "C"'
