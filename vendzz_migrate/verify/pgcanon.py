"""The same canonical encoding as :mod:`vendzz_migrate.verify.canon`, as PostgreSQL SQL.

The expression for a column depends on the column's real type in the target (read from the
catalog), so a column created with another type than the mapping says is still compared by
meaning, and the schema check reports the type difference separately.
"""

from __future__ import annotations

from collections.abc import Sequence

from vendzz_migrate.pg import ident
from vendzz_migrate.source import pieces
from vendzz_migrate.typemap.convert import LARGE_BLOB, Kind, kind_for, make


def value_sql(column: str, pg_type: str) -> str:
    """Canonical text of one column (NULL stays NULL), by the conversion of its real type's
    kind (``Conversion.pg_canon_sql``)."""
    return make(kind_for(pg_type), pg_type).pg_canon_sql(ident(column))


def shown_sql(column: str, pg_type: str) -> str:
    """A column as the differing columns of a changed row compare and show it: its canonical
    text, but a bytea value over LARGE_BLOB as its size and the md5 of its bytes (the SQLite
    side's ``blobs.shown``), not 2 MB of hex per MB fetched; any other canonical text over
    ``pieces.LARGE_BYTES`` bytes as its size and the md5 of its bytes (``large.shown``)."""
    value = value_sql(column, pg_type)
    if kind_for(pg_type) is not Kind.BYTES:
        v, limit = f"convert_to({value}, 'UTF8')", pieces.LARGE_BYTES
        return (
            f"CASE WHEN octet_length({v}) > {limit} THEN '<' || octet_length({v})"
            f" || ' bytes, md5 ' || md5({v}) || '>' ELSE {value} END"
        )
    c = ident(column)
    return (
        f"CASE WHEN length({c}) > {LARGE_BLOB} THEN '<' || length({c}) || ' bytes, md5 '"
        f" || md5({c}) || '>' ELSE {value} END"
    )


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
        return ident(column)
    return f'({value_sql(column, pg_type)}) COLLATE "C"'
