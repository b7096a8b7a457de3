"""Jobs as the console sees them: state built from engine events, on the UI thread only.

The app starts an engine job in a Textual thread worker (``ConsoleApp.start_job``). The worker's
JobContext sink posts each engine Event as a ``JobEvent`` message; ``JobState.apply`` folds it
into the state below on the UI thread. Log lines go into one bounded buffer that the Jobs screen
drains on a timer, so a chatty job can never stall the UI.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from s3rb_tui.engine.errors import S3rbError
from s3rb_tui.engine.jobs import CancelToken, Event, JobContext, TableResult

LOG_BUFFER_LINES = 5000

JobFunction = Callable[[JobContext], "list[TableResult] | None"]


def describe_error(err: BaseException) -> tuple[str, str | None]:
    """(one-line message, hint) for any exception a worker raised."""
    if isinstance(err, S3rbError):
        return err.message, err.hint
    text = str(err).replace("\n", " ").strip()
    return f"{err.__class__.__name__}: {text}" if text else err.__class__.__name__, None


@dataclass
class TableProgress:
    table: str
    rows: int = 0
    files: int = 0
    total: int | None = None
    rows_per_s: float | None = None
    phase: str = "waiting"
    status: str = "pending"  # pending | running | success | no new data | failed | cancelled | ...
    error: str | None = None
    hint: str | None = None

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or not self.rows_per_s or self.rows >= self.total:
            return None
        return (self.total - self.rows) / self.rows_per_s


@dataclass
class LogLine:
    seq: int
    job_id: str
    time: float
    level: str
    table: str | None
    text: str


@dataclass
class JobState:
    job_id: str
    name: str
    title: str
    tables: list[str]
    cancel: CancelToken = field(default_factory=CancelToken)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    status: str = "running"  # running | cancelling | success | failed | cancelled
    progress: dict[str, TableProgress] = field(default_factory=dict)
    results: list[TableResult] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        for t in self.tables:
            self.progress.setdefault(t, TableProgress(t))

    @property
    def running(self) -> bool:
        return self.status in ("running", "cancelling")

    def table(self, name: str) -> TableProgress:
        if name not in self.progress:
            self.progress[name] = TableProgress(name)
        return self.progress[name]

    def apply(self, event: Event) -> None:
        """Fold one engine event into the state (UI thread)."""
        d = event.data
        if event.kind == "progress" and event.table:
            p = self.table(event.table)
            p.rows = int(d.get("rows") or 0)
            p.files = int(d.get("files") or 0)
            p.total = d.get("total")
            p.rows_per_s = d.get("rows_per_s")
            p.phase = str(d.get("phase") or p.phase)
            p.status = "running"
        elif event.kind == "started" and event.table:
            self.table(event.table).status = "running"
        elif event.kind == "table_done" and event.table:
            p = self.table(event.table)
            p.status = str(d.get("status") or "done")
            p.rows = int(d.get("rows") or p.rows)
            p.files = int(d.get("files") or p.files)
            p.error, p.hint = d.get("error"), d.get("hint")

    def finish(self, results: list[TableResult], error: BaseException | None) -> None:
        self.ended = time.time()
        self.results = list(results)
        for r in results:
            p = self.table(r.table)
            p.status, p.rows, p.files, p.error, p.hint = r.status, r.rows, r.files, r.error, r.hint
        if error is not None:
            self.error, self.hint = describe_error(error)
            cancelled = self.cancel.cancelled and error.__class__.__name__ == "Cancelled"
            self.status = "cancelled" if cancelled else "failed"
        elif self.cancel.cancelled or any(r.status == "cancelled" for r in results):
            self.status = "cancelled"
        elif any(not r.ok for r in results):
            self.status = "failed"
            bad = next(r for r in results if not r.ok)
            self.error, self.hint = f"{bad.table}: {bad.error or bad.status}", bad.hint
        else:
            self.status = "success"
        for p in self.progress.values():
            if p.status in ("pending", "running"):
                p.status = "cancelled" if self.status == "cancelled" else p.status

    @property
    def totals(self) -> tuple[int, int]:
        return sum(p.rows for p in self.progress.values()), sum(p.files for p in self.progress.values())


class LogBuffer:
    """Bounded log of every job's lines; readers ask for what is newer than their last seq."""

    def __init__(self, max_lines: int = LOG_BUFFER_LINES) -> None:
        self.lines: deque[LogLine] = deque(maxlen=max_lines)
        self._seq = itertools.count(1)

    def add(self, job_id: str, level: str, table: str | None, text: str, when: float | None = None) -> None:
        self.lines.append(LogLine(next(self._seq), job_id, when or time.time(), level, table, text))

    def after(self, seq: int) -> list[LogLine]:
        if not self.lines or self.lines[-1].seq <= seq:
            return []
        return [ln for ln in self.lines if ln.seq > seq]


#: fields that differ from run to run; left out of the log pane in snapshot mode
VOLATILE_FIELDS = frozenset({"run_id", "duration_seconds", "seconds", "upper_bound", "run_stamp", "rows_per_s", "elapsed", "latency_ms"})


def event_log_text(event: Event, stable: bool = False) -> tuple[str, str] | None:
    """(level, text) for events that belong in the log pane, else None."""
    d: dict[str, Any] = event.data
    if event.kind == "log":
        extra = {k: v for k, v in d.items() if k not in ("event", "level") and not (stable and k in VOLATILE_FIELDS)}
        tail = " ".join(f"{k}={v}" for k, v in extra.items() if v is not None)
        return str(d.get("level", "info")), f"{d.get('event', '')}" + (f"  {tail}" if tail else "")
    if event.kind == "table_done":
        status = d.get("status")
        text = f"{status}: {d.get('rows', 0):,} rows, {d.get('files', 0)} files"
        details = d.get("details") or {}
        if status == "dry run" and details:
            how = "first full backup in primary-key order" if details.get("initial_scan") else details.get("mode", "?")
            text += f" — would extract ≈{details.get('estimated_rows', 0):,} rows ({how})"
            if details.get("uncommitted_files_to_remove"):
                text += f", remove {details['uncommitted_files_to_remove']} uncommitted file(s)"
        if d.get("error"):
            text += f" - {d['error']}" + (f" ({d['hint']})" if d.get("hint") else "")
        return ("error" if status == "failed" else "info"), text
    if event.kind == "started":
        return "info", "started"
    if event.kind == "finished":
        return "info", str(d.get("event") or "finished")
    return None
