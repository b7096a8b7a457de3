"""Retries for transient MySQL and warehouse errors (tenacity: exponential backoff with jitter).

``is_transient`` decides what is worth another attempt: a lost or refused connection, a deadlock,
a lock wait timeout, a serialization failure. Everything else (bad credentials, a missing table or
database, a syntax error, bad data) is permanent and raised at once. Every retry is logged.
S3 has its own retries (botocore's ``standard`` mode, set where the client is built).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import tenacity

from s3rb_tui.engine.core.errors import Cancelled, S3rbError
from s3rb_tui.engine.core.jobs import CancelToken

T = TypeVar("T")
Log = Callable[..., None]

# MySQL client/server error codes worth another attempt.
MYSQL_TRANSIENT = {
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK
    2003,  # CR_CONN_HOST_ERROR: cannot connect (server restarting, tunnel being reopened)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    1053,  # ER_SERVER_SHUTDOWN
}
# Never retried, whatever class they arrive in: bad credentials, unknown database/table/column, access denied.
MYSQL_PERMANENT = {1044, 1045, 1049, 1054, 1142, 1146, 1227, 1698}

# PostgreSQL/Redshift SQLSTATEs worth another attempt (serialization, deadlock, connection loss).
PG_TRANSIENT_CODES = {"40001", "40P01", "57P01", "57P02", "57P03"}
PG_TRANSIENT_CLASSES = ("08",)  # connection exception
# libpq reports a lost connection without a SQLSTATE; these phrases identify it.
PG_CONNECTION_LOST = (
    "server closed the connection unexpectedly",
    "connection already closed",
    "terminating connection",
    "could not receive data from server",
    "could not send data to server",
    "ssl connection has been closed unexpectedly",
    "ssl syscall error",
    "eof detected",
    "connection refused",
    "connection timed out",
    "timeout expired",
    "no connection to the server",
    "serializable isolation violation",  # Redshift error 1023
)


def _mysql_code(exc: BaseException) -> int | None:
    try:
        import pymysql
    except ImportError:  # pragma: no cover - pymysql is a dependency
        return None
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _is_psycopg2(exc: BaseException) -> bool:
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return False
    return isinstance(exc, psycopg2.Error)


def _pg_transient(exc: BaseException) -> bool:
    import psycopg2
    import psycopg2.extensions

    code = getattr(exc, "pgcode", None)
    if code:
        return code in PG_TRANSIENT_CODES or code.startswith(PG_TRANSIENT_CLASSES) or (
            "serializable isolation violation" in str(exc).lower()
        )
    if isinstance(exc, psycopg2.extensions.TransactionRollbackError):
        return True  # serialization_failure, deadlock_detected (constructed without a SQLSTATE)
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        text = str(exc).lower()
        return any(phrase in text for phrase in PG_CONNECTION_LOST)
    return False


def is_transient(exc: BaseException) -> bool:
    """True when another attempt may succeed; False for permanent errors.

    An engine error raised ``from`` a driver error is judged by that driver error."""
    if isinstance(exc, S3rbError) and exc.__cause__ is not None:
        return is_transient(exc.__cause__)
    code = _mysql_code(exc)
    if code is not None:
        if code in MYSQL_PERMANENT:
            return False
        return code in MYSQL_TRANSIENT
    if _is_psycopg2(exc):
        return _pg_transient(exc)
    # A socket dropped under a driver that did not wrap it.
    return isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))


def call_with_retry(
    fn: Callable[[], T],
    *,
    attempts: int,
    what: str,
    log: Log | None = None,
    is_transient: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[BaseException], Any] | None = None,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    cancel: CancelToken | None = None,
) -> T:
    """Call ``fn()`` up to ``attempts`` times while it raises transient errors.

    Waits grow exponentially from ``base_delay`` (full jitter, capped at ``max_delay``).
    ``on_retry(exc)`` runs after the wait, right before each new attempt (reconnect, check a
    tunnel); an exception it raises ends the retries. ``log`` is
    called as ``log(event, level=..., **fields)`` for every retry and for giving up.
    The last error is re-raised unchanged, so callers see the driver's own exception.
    """
    attempts = max(1, int(attempts))

    last_error: list[BaseException] = []

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            last_error[:] = [exc]
        if log is not None:
            log(
                "retrying after a transient error",
                level="warning",
                what=what,
                attempt=state.attempt_number,
                attempts=attempts,
                wait_s=round(state.upcoming_sleep, 2),
                error=f"{type(exc).__name__}: {exc}",
            )

    def before_attempt(state: tenacity.RetryCallState) -> None:
        # After the wait, right before the next attempt: reconnect or check a tunnel then.
        if state.attempt_number > 1 and on_retry is not None and last_error:
            on_retry(last_error[0])

    def sleep(seconds: float) -> None:
        if cancel is None:
            tenacity.nap.sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled(cancel.reason or "cancelled")

    def give_up(state: tenacity.RetryCallState) -> Any:
        exc = state.outcome.exception() if state.outcome else None
        if log is not None and exc is not None and state.attempt_number > 1:
            log(
                "giving up after retries",
                level="error",
                what=what,
                attempts=state.attempt_number,
                error=f"{type(exc).__name__}: {exc}",
            )
        return state.outcome.result() if state.outcome else None

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_random_exponential(multiplier=base_delay, max=max_delay),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=before_sleep,
        before=before_attempt,
        retry_error_callback=give_up,
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
