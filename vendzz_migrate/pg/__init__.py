"""PostgreSQL: every connection, error classification and quoted identifier of the product.

- :func:`connect` opens a connection with the settings' timeout and an ``application_name``
  ``vendzz-migrate:<command>[:<role>]`` (retrying transient failures), then its session setup
  (:data:`LOAD_SESSION` for the copy and verify, :data:`DURABLE_SESSION` for the cutover);
- :func:`classify` maps a psycopg error to the project's hierarchy by SQLSTATE (the table is in
  :mod:`vendzz_migrate.pg.failures`), :func:`retryable` says whether to retry it;
- :func:`ident` and :func:`qualified` quote identifiers with ``psycopg.sql``.

The DDL the copy creates lives with the copy (``copy/ddl.py``, ``copy/views.py``).
"""

from vendzz_migrate.pg.failures import classify, retryable, sqlstate
from vendzz_migrate.pg.quote import ident, qualified
from vendzz_migrate.pg.session import (
    DURABLE_SESSION,
    LOAD_SESSION,
    TIMEOUT_S,
    application_name,
    connect,
    require_url,
)

__all__ = [
    "DURABLE_SESSION",
    "LOAD_SESSION",
    "TIMEOUT_S",
    "application_name",
    "classify",
    "connect",
    "ident",
    "qualified",
    "require_url",
    "retryable",
    "sqlstate",
]
