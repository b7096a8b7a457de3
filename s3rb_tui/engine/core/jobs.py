"""Jobs report, front ends render: events, cancel tokens and results.

Engine functions take a ``JobContext``. They call ``ctx.log``/``ctx.progress``/``ctx.table_done``
and ``ctx.check_cancelled()`` between batches. The headless runner turns events into JSON-lines
logs; the console turns them into messages for its widgets. Neither holds pipeline logic.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from s3rb_tui.engine.core.errors import Cancelled


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


@dataclass(frozen=True)
class Event:
    kind: str  # started | progress | log | table_done | finished
    job_id: str
    time: float
    table: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableResult:
    table: str
    status: str = "pending"  # success | no new data | failed | cancelled | skipped
    rows: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("success", "no new data", "skipped", "dry run")

    @property
    def rows_per_s(self) -> float:
        """The table's rate over its whole run (a sync's: both phases), not a phase's own rate."""
        return rate(self.rows, self.seconds) if self.status != "dry run" else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}


def rate(rows: int, seconds: float) -> float:
    """rows/s, 0 when nothing moved or no time passed."""
    return round(rows / seconds, 1) if rows and seconds > 0 else 0.0


EventSink = Callable[[Event], None]


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

    def emit(self, kind: str, table: str | None = None, **data: Any) -> None:
        event = Event(kind=kind, job_id=self.job_id, time=time.time(), table=table, data=data)
        for sink in list(self._sinks):
            sink(event)

    def log(self, message: str, level: str = "info", table: str | None = None, **fields: Any) -> None:
        self.emit("log", table=table, event=message, level=level, **fields)

    def progress(self, table: str, *, rows: int, files: int = 0, total: int | None = None, rows_per_s: float | None = None, phase: str = "extract", **extra: Any) -> None:
        self.emit("progress", table=table, rows=rows, files=files, total=total, rows_per_s=rows_per_s, phase=phase, **extra)

    def table_done(self, result: TableResult) -> None:
        with self._lock:
            self.results.append(result)
        data = result.to_json()
        data.pop("table")
        self.emit("table_done", table=result.table, **data)

    def check_cancelled(self) -> None:
        self.cancel.raise_if_cancelled()


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
