"""PostgreSQL identifiers, quoted by psycopg (``psycopg.sql.Identifier``) for SQL built as text.

Always quoted, so camelCase, keywords (``order``), spaces, quotes, semicolons and any Unicode
survive exactly. (SQLite's identifiers are quoted by :func:`vendzz_migrate.source.qi`.)
"""

from __future__ import annotations


def ident(name: str) -> str:
    """``name`` as a quoted PostgreSQL identifier: ``my"col`` -> ``"my""col"``."""
    from psycopg import sql

    return sql.Identifier(name).as_string(None)


def qualified(schema: str, name: str) -> str:
    """``schema.name``, both quoted: ``"public"."Order Items"``."""
    from psycopg import sql

    return sql.Identifier(schema, name).as_string(None)
