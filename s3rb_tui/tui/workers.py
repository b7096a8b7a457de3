"""Jobs as the console sees them: state built from engine events, on the UI thread only.

The app starts an engine job in a Textual thread worker (``ConsoleApp.start_job``). The worker's
JobContext sink posts each typed engine event (engine/core/events.py) as a ``JobEvent`` message;
``JobState.apply`` folds it into the state below on the UI thread. Every state-changing action of
the console (jobs, clean, set-count, watermark changes) runs this way, so each one is on the Jobs
screen and in the log. Log lines go into one bounded buffer that the Jobs screen
drains on a timer, so a chatty job can never stall the UI.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from s3rb_tui.engine.core.errors import Cancelled, S3rbError
from s3rb_tui.engine.core.events import EngineEvent, JobFinished, JobStarted, JobStatus, LogEvent, Progress, TableDone, TableResult
from s3rb_tui.engine.core.jobs import CancelToken, JobContext

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
    status: JobStatus = JobStatus.PENDING
    error: str | None = None
    hint: str | None = None
    #: the engine's rate over the table's whole run (both steps of a sync), once it has ended
    run_rate: float | None = None

    @property
    def running(self) -> bool:
        return self.status.active

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
        if self.status != JobStatus.RUNNING:
            return None
        rows, total = self.step_rows
        if not total or not self.rows_per_s or rows >= total:
            return None
        return (total - rows) / self.rows_per_s

    def apply_result(self, r: TableResult) -> None:
        """The engine's result for the table: its figures replace the progress counters (a sync's
        result carries each step's figures in ``details``); its rate is the whole run's."""
        self.status, self.error, self.hint = JobStatus(r.status), r.error, r.hint
        self.run_rate = r.rows_per_s or None
        backup, load = r.details.get("backup"), r.details.get("load")
        if backup is None and load is None:
            if self.phase == "load":
                self.load_rows, self.load_files = r.rows, r.files
            else:
                self.rows, self.files = r.rows, r.files
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
    status: JobStatus = JobStatus.RUNNING  # then CANCELLING, and SUCCESS, FAILED or CANCELLED at the end
    progress: dict[str, TableProgress] = field(default_factory=dict)
    results: list[TableResult] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None
    #: what started the job follows it (a dialog's progress bar, its result): called on the UI
    #: thread after each of its events, and once when it has ended
    on_event: Callable[["JobState"], None] | None = None
    on_end: Callable[["JobState"], None] | None = None

    def __post_init__(self) -> None:
        for t in self.tables:
            self.progress.setdefault(t, TableProgress(t))

    @property
    def running(self) -> bool:
        return self.status.active

    def table(self, name: str) -> TableProgress:
        if name not in self.progress:
            self.progress[name] = TableProgress(name)
        return self.progress[name]

    def apply(self, event: EngineEvent) -> None:
        """Fold one engine event into the state (UI thread)."""
        if isinstance(event, Progress):
            p = self.table(event.table)
            p.phase = event.phase
            if p.phase == "load":
                p.load_rows, p.load_files, p.load_total = event.rows, event.files, event.total
            else:
                p.rows, p.files, p.total = event.rows, event.files, event.total
            p.rows_per_s = event.rows_per_s
            p.status = JobStatus.RUNNING
        elif isinstance(event, TableDone):
            self.table(event.table).apply_result(event.result)

    def finish(self, results: list[TableResult], error: BaseException | None) -> None:
        self.ended = time.time()
        self.results = list(results)
        for r in results:
            self.table(r.table).apply_result(r)
        if error is not None:
            self.error, self.hint = describe_error(error)
            cancelled = self.cancel.cancelled and isinstance(error, Cancelled)
            self.status = JobStatus.CANCELLED if cancelled else JobStatus.FAILED
        elif self.cancel.cancelled or any(r.status == JobStatus.CANCELLED for r in results):
            self.status = JobStatus.CANCELLED
        elif any(not r.ok for r in results):
            self.status = JobStatus.FAILED
            bad = next(r for r in results if not r.ok)
            self.error, self.hint = f"{bad.table}: {bad.error or bad.status}", bad.hint
        else:
            self.status = JobStatus.SUCCESS
        for p in self.progress.values():
            # a table the job never reported an end for has ended with the job: it shows no
            # ETA and no "running" (a job that raised mid-table left its table "running")
            if p.running and self.status != JobStatus.SUCCESS:
                if self.status == JobStatus.CANCELLED:
                    p.status = JobStatus.CANCELLED
                else:
                    p.status = JobStatus.FAILED if p.status == JobStatus.RUNNING else JobStatus.SKIPPED

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


def event_log_text(event: EngineEvent, stable: bool = False) -> tuple[str, str] | None:
    """(level, text) for events that belong in the log pane, else None."""
    if isinstance(event, LogEvent):
        extra = {k: v for k, v in event.fields.items() if not (stable and k in VOLATILE_FIELDS)}
        tail = " ".join(f"{k}={v}" for k, v in extra.items() if v is not None)
        return event.level, event.message + (f"  {tail}" if tail else "")
    if isinstance(event, TableDone):
        r = event.result
        text = f"{r.status}: {r.rows:,} rows, {r.files} files"
        details = r.details
        if r.status == JobStatus.DRY_RUN and details:
            scan = details.get("initial_scan")
            how = ("catch-up in primary-key order" if scan.get("catch_up") else "first full backup in primary-key order") if scan \
                else details.get("mode", "?")
            text += f" — would extract ≈{details.get('estimated_rows', 0):,} rows ({how})"
            if details.get("uncommitted_files_to_remove"):
                text += f", remove {details['uncommitted_files_to_remove']} uncommitted file(s)"
        if r.error:
            text += f" - {r.error}" + (f" ({r.hint})" if r.hint else "")
        return ("error" if r.status == JobStatus.FAILED else "info"), text
    if isinstance(event, JobStarted):
        return "info", "started"
    if isinstance(event, JobFinished):
        return "info", event.message
    return None
