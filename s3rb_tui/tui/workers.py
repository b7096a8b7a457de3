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

from s3rb_tui.engine.core.errors import S3rbError
from s3rb_tui.engine.core.jobs import CancelToken, Event, JobContext, TableResult

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
    """One table of a job. A sync has two steps: the backup's figures (``rows``, ``files``: rows
    extracted, files written) and the load's (``load_rows``, ``load_files``) are kept apart, so the
    load starting at 0 never hides what the backup wrote ("Files 0" during the load)."""

    table: str
    rows: int = 0
    files: int = 0
    total: int | None = None
    rows_per_s: float | None = None
    load_rows: int = 0
    load_files: int = 0
    load_total: int | None = None
    phase: str = "waiting"
    status: str = "pending"  # pending | running | success | no new data | failed | cancelled | ...
    error: str | None = None
    hint: str | None = None
    #: the engine's rate over the table's whole run (both steps of a sync), once it has ended
    run_rate: float | None = None

    @property
    def running(self) -> bool:
        return self.status in ("pending", "running")

    @property
    def shown_rows(self) -> int:
        return max(self.rows, self.load_rows)

    @property
    def shown_files(self) -> int:
        return max(self.files, self.load_files)

    @property
    def step_rows(self) -> tuple[int, int | None]:
        """(rows, total) of the step running now."""
        return (self.load_rows, self.load_total) if self.phase == "load" else (self.rows, self.total)

    @property
    def eta_seconds(self) -> float | None:
        """Only while the table runs and a rate is known; never for a finished or failed table."""
        if self.status != "running":
            return None
        rows, total = self.step_rows
        if not total or not self.rows_per_s or rows >= total:
            return None
        return (total - rows) / self.rows_per_s

    def apply_result(self, status: str, rows: int, files: int, rows_per_s: float | None, details: dict, error: str | None, hint: str | None) -> None:
        """The engine's result for the table: its figures replace the progress counters (a sync's
        result carries each step's figures in ``details``); its rate is the whole run's."""
        self.status, self.error, self.hint = status, error, hint
        self.run_rate = rows_per_s or None
        backup, load = details.get("backup"), details.get("load")
        if backup is None and load is None:
            if self.phase == "load":
                self.load_rows, self.load_files = rows, files
            else:
                self.rows, self.files = rows, files
            return
        if backup is not None:
            self.rows, self.files = int(backup.get("rows") or 0), int(backup.get("files") or 0)
        if load is not None:
            self.load_rows, self.load_files = int(load.get("rows") or 0), int(load.get("files") or 0)



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
            p.phase = str(d.get("phase") or p.phase)
            if p.phase == "load":
                p.load_rows, p.load_files, p.load_total = int(d.get("rows") or 0), int(d.get("files") or 0), d.get("total")
            else:
                p.rows, p.files, p.total = int(d.get("rows") or 0), int(d.get("files") or 0), d.get("total")
            p.rows_per_s = d.get("rows_per_s")
            p.status = "running"
        elif event.kind == "started" and event.table:
            self.table(event.table).status = "running"
        elif event.kind == "table_done" and event.table:
            self.table(event.table).apply_result(
                str(d.get("status") or "done"), int(d.get("rows") or 0), int(d.get("files") or 0),
                d.get("rows_per_s"), d.get("details") or {}, d.get("error"), d.get("hint"))

    def finish(self, results: list[TableResult], error: BaseException | None) -> None:
        self.ended = time.time()
        self.results = list(results)
        for r in results:
            self.table(r.table).apply_result(r.status, r.rows, r.files, r.rows_per_s, r.details, r.error, r.hint)
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
        return sum(p.shown_rows for p in self.progress.values()), sum(p.shown_files for p in self.progress.values())


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
