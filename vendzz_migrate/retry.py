"""The one retry policy of the project (tenacity): time budget, attempts, jittered backoff.

Only transient failures are retried: a dropped connection, a server restart, a Redis failover.
Data errors and programming errors are never retried.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

#: attempts, total budget in seconds, first delay and cap in seconds
ATTEMPTS = 5
BUDGET_S = 60.0
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 5.0


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: connection loss, server shutdown, Redis failover
    (PostgreSQL's by SQLSTATE: :func:`vendzz_migrate.pg.retryable`)."""
    import psycopg
    import redis.exceptions as rexc

    from vendzz_migrate.pg.failures import retryable

    if isinstance(exc, psycopg.Error):
        return retryable(exc)
    if isinstance(exc, rexc.AuthenticationError | rexc.AuthenticationWrongNumberOfArgsError):
        return False
    return isinstance(exc, rexc.ConnectionError | rexc.TimeoutError | rexc.TryAgainError)


def policy(
    *,
    attempts: int = ATTEMPTS,
    budget_s: float = BUDGET_S,
    first_delay_s: float = FIRST_DELAY_S,
    max_delay_s: float = MAX_DELAY_S,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> Retrying:
    """Build the project's retry policy; callers may tighten it (Redis: 3 tries, 100 ms)."""
    return Retrying(
        stop=stop_after_attempt(attempts) | stop_after_delay(budget_s),
        wait=wait_random_exponential(multiplier=first_delay_s, max=max_delay_s),
        retry=retry_if_exception(retry_on),
        reraise=True,
    )
