"""PostgreSQL failures in the project's error hierarchy, by SQLSTATE (psycopg's ``exc.sqlstate``).

========================================  ===================================  ====  =======
SQLSTATE                                  error (message)                      exit  retried
========================================  ===================================  ====  =======
28xxx invalid authorization               ConnectionFailed (authentication)    5     no
08xxx connection exception                ConnectionFailed (cannot reach)      5     yes
57P01 admin / 57P02 crash shutdown        ConnectionFailed (ended)             5     yes
57P03 cannot connect now (starting up)    ConnectionFailed (cannot reach)      5     yes
57P04 database dropped, 57P05 idle        ConnectionFailed (ended)             5     no
53300 too many connections                ConnectionFailed (cannot reach)      5     yes
42501 insufficient privilege              PermissionDenied                     6     no
53100 disk full, 53200 out of memory,     CapacityError                        12    no
other 53xxx insufficient resources
anything else (57014 statement timeout,   TargetError                          11    no
55P03 lock not available, 23xxx, ...)
========================================  ===================================  ====  =======

libpq reports a failure to connect (refused, timed out, authentication, unknown database or role,
no free connection slot, server starting up) and a connection lost mid-statement with **no
SQLSTATE**: its message is all there is. For those (``psycopg.OperationalError`` with
``sqlstate`` None) and only for those, three phrases of libpq's and the server's English
messages are read (:data:`_AUTH`, :data:`_MISSING`, :data:`_CLOSED`); anything else is "cannot
reach PostgreSQL", retried. A server whose ``lc_messages`` is not English only loses the finer
message and the "not retried" of authentication and unknown database: the exit code is 5 anyway.
"""

from __future__ import annotations

from vendzz_migrate.errors import (
    CapacityError,
    ConnectionFailed,
    PermissionDenied,
    TargetError,
    VendzzError,
)
from vendzz_migrate.urls import mask, mask_text

_ENDED = frozenset({"57P01", "57P02", "57P04", "57P05"})
_RETRIED = frozenset({"57P01", "57P02", "57P03", "53300"})
#: the phrases read in a message without SQLSTATE (lower case)
_AUTH = ("authentication", "no password supplied")  # "password authentication failed ..."
_MISSING = ("does not exist",)  # FATAL: database "x" does not exist / role "x" does not exist
_CLOSED = ("closed the connection",)  # "server closed the connection unexpectedly"


def sqlstate(exc: BaseException) -> str | None:
    """The error's SQLSTATE; None for libpq's own failures (and for anything not psycopg's)."""
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def _libpq(exc: BaseException) -> str | None:
    """For a libpq failure without SQLSTATE, its lower-case message (else None)."""
    import psycopg

    if isinstance(exc, psycopg.OperationalError) and sqlstate(exc) is None:
        return str(exc).lower()
    return None


def _says(text: str | None, phrases: tuple[str, ...]) -> bool:
    return text is not None and any(phrase in text for phrase in phrases)


def retryable(exc: BaseException) -> bool:
    """True for a failure worth retrying: the connection lost or refused for now (server
    restarting, no free slot); never authentication, an unknown database, or a statement's
    own error."""
    text = _libpq(exc)
    if text is not None:
        return not _says(text, _AUTH + _MISSING)
    state = sqlstate(exc)
    return state is not None and (state.startswith("08") or state in _RETRIED)


def classify(exc: BaseException, url: str | None = None) -> VendzzError:
    """Map a psycopg error to the project's error hierarchy: a masked one-line message, with
    ``data`` ``sqlstate`` (None from libpq) and ``reason`` (the driver's first line, masked)."""
    state = sqlstate(exc)
    reason = mask_text((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    error = _choose(exc, state, reason, f" ({mask(url)})" if url else "")
    error.data.update(sqlstate=state, reason=reason)
    return error


def _choose(exc: BaseException, state: str | None, text: str, where: str) -> VendzzError:
    libpq = _libpq(exc)
    if (state or "").startswith("28") or _says(libpq, _AUTH):
        return ConnectionFailed(f"authentication failed{where}: check the user and password")
    if state in _ENDED or _says(libpq, _CLOSED):
        return ConnectionFailed(
            f"PostgreSQL ended the connection{where} (restarted or stopped?): {text}"
        )
    if libpq is not None or (state or "").startswith("08") or state in ("57P03", "53300"):
        return ConnectionFailed(f"cannot reach PostgreSQL{where}: {text}")
    if state == "42501":
        return PermissionDenied(f"PostgreSQL refused: {text}")
    if state == "53100":
        return CapacityError(f"PostgreSQL is out of space: {text}")
    if (state or "").startswith("53"):
        return CapacityError(f"PostgreSQL is out of resources: {text}")
    return TargetError(f"PostgreSQL error: {text}")
