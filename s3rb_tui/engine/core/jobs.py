"""Jobs report, front ends render: the context a job reports through, cancel tokens, rates.

Engine functions take a ``JobContext``. They call ``ctx.started``/``ctx.log``/``ctx.progress``/
``ctx.table_done``/``ctx.finished`` and ``ctx.check_cancelled()`` between batches; each call
emits one of the typed events of ``engine.core.events``, and nothing else reaches a sink. The
headless runner turns events into JSON-lines logs; the console folds them into its job state.
Neither holds pipeline logic.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Iterable

from s3rb_tui.engine.core.errors import Cancelled, S3rbError
from s3rb_tui.engine.core.events import (
    EVENT_TYPES,
    EngineEvent,
    JobFinished,
    JobStarted,
    JobStatus,
    LogEvent,
    Progress,
    TableDone,
    TableResult,
    rate,
)

#: a table that ended this way may leave state to clean up (uncommitted files, the failure noted)
ENDED_BADLY = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})


class CancelToken:
    """Set from any thread; the job stops at its next batch edge."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled by the operator") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason or "cancelled")

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


EventSink = Callable[[EngineEvent], None]


class JobContext:
    """What an engine job needs from its caller: where to report, and when to stop."""

    def __init__(self, name: str, sink: EventSink | None = None, cancel: CancelToken | None = None, job_id: str | None = None):
        self.name = name
        self.job_id = job_id or uuid.uuid4().hex[:12]
        self.cancel = cancel or CancelToken()
        self._sinks: list[EventSink] = [sink] if sink else []
        self._lock = threading.Lock()
        self.results: list[TableResult] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: EngineEvent) -> None:
        """Send one typed event to every sink; anything else is a programming error."""
        if not isinstance(event, EVENT_TYPES):
            raise TypeError(f"a job emits only the typed events of engine.core.events, not {type(event).__name__}")
        for sink in list(self._sinks):
            sink(event)

    def started(self, tables: Iterable[str], **options: Any) -> None:
        self.emit(JobStarted(self.job_id, time.time(), tuple(tables), options))

    def log(self, message: str, level: str = "info", table: str | None = None, **fields: Any) -> None:
        self.emit(LogEvent(self.job_id, time.time(), message, level, table, fields))

    def progress(self, table: str, *, rows: int, files: int = 0, total: int | None = None, rows_per_s: float | None = None,
                 phase: str = "extract", eta_s: float | None = None, bytes: int | None = None, errors: int | None = None,
                 **extra: Any) -> None:
        self.emit(Progress(self.job_id, time.time(), table, phase, rows, files, total, rows_per_s, eta_s, bytes, errors, extra))

    def table_done(self, result: TableResult) -> None:
        with self._lock:
            self.results.append(result)
        self.emit(TableDone(self.job_id, time.time(), result.snapshot()))

    def finished(self, message: str, results: list[TableResult], *, started: float | None = None, strategy: str | None = None,
                 run_id: str | None = None, totals: bool = True) -> None:
        """The job's end: ``success`` when every table is ok; with ``started`` (a monotonic
        reading) its duration and rate; ``totals`` adds the lists of successful and failed tables."""
        rows, files = sum(r.rows for r in results), sum(r.files for r in results)
        seconds = time.monotonic() - started if started is not None else None
        self.emit(JobFinished(
            self.job_id, time.time(), message, all(r.ok for r in results), rows, files, strategy,
            round(seconds, 3) if seconds is not None else None,
            tuple(r.table for r in results if r.ok) if totals else None,
            tuple(r.table for r in results if not r.ok) if totals else None,
            run_id, rate(rows, seconds) if seconds is not None else None,
        ))

    def check_cancelled(self) -> None:
        self.cancel.raise_if_cancelled()


def run_table_change(ctx: JobContext, table: str, message: str, change: Callable[[TableResult], None], **options: Any) -> list[TableResult]:
    """One state change of one table (a clean, a set-count, a watermark set or reset) as a job:
    started, the change, the table's result, finished, like every other job, so the console shows
    it on its Jobs screen and in its log. ``change`` fills in the result; an error fails the table
    (its message and hint in the result), a cancel cancels it."""
    started = time.monotonic()
    result = TableResult(table=table)
    ctx.started([table], **options)
    try:
        ctx.check_cancelled()
        change(result)
        if result.status == JobStatus.PENDING:
            result.status = JobStatus.SUCCESS
    except Cancelled as e:
        result.status, result.error = JobStatus.CANCELLED, str(e)
    except S3rbError as e:
        result.status, result.error, result.hint = JobStatus.FAILED, e.message, e.hint
    except Exception as e:  # a store or driver error: the change failed, the caller keeps running
        result.status, result.error = JobStatus.FAILED, f"{e.__class__.__name__}: {e}"
    result.seconds = round(time.monotonic() - started, 3)
    ctx.table_done(result)
    ctx.finished(message, [result], started=started, totals=False)
    return [result]


class RateMeter:
    """rows/s and ETA for progress events."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def rate(self, rows: int) -> float:
        elapsed = time.monotonic() - self.start
        return rows / elapsed if elapsed > 0 else 0.0

    def eta(self, rows: int, total: int | None) -> float | None:
        r = self.rate(rows)
        if not total or r <= 0 or rows >= total:
            return None
        return (total - rows) / r
