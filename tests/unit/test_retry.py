"""Which errors are retried, and how call_with_retry behaves (real exception objects, no patching)."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pymysql
import pytest

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.retry import call_with_retry, is_transient


@pytest.mark.parametrize(
    "exc",
    [
        pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
        pymysql.err.OperationalError(2006, "MySQL server has gone away"),
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"),
        pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1'"),
        psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update"),
        psycopg2.errors.DeadlockDetected("deadlock detected"),
        psycopg2.OperationalError("server closed the connection unexpectedly\n\tThis probably means..."),
        psycopg2.InterfaceError("connection already closed"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}",
)
def test_transient_errors_are_retried(exc):
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        pymysql.err.OperationalError(1045, "Access denied for user 'x'@'localhost'"),
        pymysql.err.ProgrammingError(1146, "Table 'db.nope' doesn't exist"),
        pymysql.err.OperationalError(1049, "Unknown database 'nope'"),
        pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
        pymysql.err.DataError(1406, "Data too long for column"),
        psycopg2.OperationalError('FATAL:  password authentication failed for user "dw"'),
        psycopg2.errors.UndefinedTable('relation "nope" does not exist'),
        ValueError("not a database error"),
    ],
    ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}",
)
def test_permanent_errors_are_not_retried(exc):
    assert not is_transient(exc)


def test_transient_error_is_retried_then_succeeds_and_each_retry_is_logged():
    calls = []
    logged = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
        return "rows"

    result = call_with_retry(flaky, attempts=3, what="select batch", base_delay=0.001,
                             log=lambda event, level="info", **f: logged.append((event, level, f)))
    assert result == "rows"
    assert len(calls) == 3
    assert [e for e, _, _ in logged] == ["retrying after a transient error"] * 2
    assert all(level == "warning" and f["what"] == "select batch" for _, level, f in logged)
    assert [f["attempt"] for _, _, f in logged] == [1, 2]


def test_permanent_error_is_raised_at_once():
    calls = []

    def denied():
        calls.append(1)
        raise pymysql.err.OperationalError(1045, "Access denied")

    with pytest.raises(pymysql.err.OperationalError) as info:
        call_with_retry(denied, attempts=5, what="connect", base_delay=0.001)
    assert info.value.args[0] == 1045
    assert len(calls) == 1


def test_budget_exhausted_raises_the_last_driver_error_and_runs_on_retry_between_attempts():
    calls = []
    hooks = []
    logged = []

    def always_lost():
        calls.append(1)
        raise pymysql.err.OperationalError(2006, f"gone away #{len(calls)}")

    with pytest.raises(pymysql.err.OperationalError) as info:
        call_with_retry(always_lost, attempts=3, what="q", base_delay=0.001, on_retry=hooks.append,
                        log=lambda event, level="info", **f: logged.append(event))
    assert str(info.value.args[1]) == "gone away #3"
    assert len(calls) == 3 and len(hooks) == 2
    assert logged[-1] == "giving up after retries"


def _wrapped(cause: BaseException) -> JobError:
    try:
        try:
            raise cause
        except Exception as e:
            raise JobError(f"MySQL error: {e}") from e
    except JobError as wrapped:
        return wrapped


def test_engine_errors_are_judged_by_the_driver_error_they_wrap():
    assert is_transient(_wrapped(pymysql.err.OperationalError(2013, "Lost connection")))
    assert not is_transient(_wrapped(pymysql.err.OperationalError(1045, "Access denied")))
    assert not is_transient(JobError("no cause"))


def test_an_error_in_on_retry_ends_the_retries_with_that_error():
    calls = []

    def lost():
        calls.append(1)
        raise pymysql.err.OperationalError(2013, "Lost connection")

    def reopen(exc):
        raise JobError("SSH tunnel dropped and could not be reopened")

    with pytest.raises(JobError, match="could not be reopened"):
        call_with_retry(lost, attempts=5, what="q", base_delay=0.001, on_retry=reopen)
    assert len(calls) == 1
