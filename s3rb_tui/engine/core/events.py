"""The engine's contract with its front ends: one status enum, a table's result, and the five
typed events a job emits (``JobStarted``, ``Progress``, ``LogEvent``, ``TableDone``, ``JobFinished``).

Jobs report, front ends render: the headless runner writes each event as one JSON log line
(``record``: its fields, in the order the log has always had them), the console folds them into
its job state. Events are frozen: a sink may keep them (the console queues them to its UI thread,
run records keep them) while the job goes on. ``TableDone`` carries a copy of the result, so a
job that changes its ``TableResult`` afterwards never changes an event already sent.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


class JobStatus(enum.StrEnum):
    """A table's or a job's state. A ``StrEnum``: it is its own string in JSON and in text, so the
    JSON logs and ``--json`` documents say ``"status": "no new data"`` as they always did."""

    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"  # the operator asked; the job stops at its next batch edge
    SUCCESS = "success"
    NO_NEW_DATA = "no new data"
    DRY_RUN = "dry run"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in OK_STATUSES

    @property
    def active(self) -> bool:
        """Not ended yet."""
        return self in ACTIVE_STATUSES


#: the statuses a finished table or job counts as fine: exit 0, level "info" in the log
OK_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.SUCCESS, JobStatus.NO_NEW_DATA, JobStatus.SKIPPED, JobStatus.DRY_RUN})
ACTIVE_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELLING})


def rate(rows: int, seconds: float) -> float:
    """rows/s, 0 when nothing moved or no time passed."""
    return round(rows / seconds, 1) if rows and seconds > 0 else 0.0


@dataclass
class TableResult:
    """One table's outcome of a job. Mutable while the job builds it; the ``TableDone`` event
    carries a copy."""

    table: str
    status: JobStatus = JobStatus.PENDING
    rows: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def rows_per_s(self) -> float:
        """The table's rate over its whole run (a sync's: both phases), not a phase's own rate."""
        return rate(self.rows, self.seconds) if self.status != JobStatus.DRY_RUN else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}

    def snapshot(self) -> "TableResult":
        """A copy for an event: the job may go on changing its own."""
        return copy.deepcopy(self)


# --- events --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """What every event carries: the job it belongs to and when (epoch seconds)."""

    job_id: str
    time: float


@dataclass(frozen=True)
class JobStarted(Event):
    tables: tuple[str, ...]
    #: the job's options as the log shows them (strategy, dry_run, backup_only, run_id, ...)
    options: Mapping[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"tables": list(self.tables), **self.options}


@dataclass(frozen=True)
class Progress(Event):
    table: str
    phase: str  # extract | load | clean | verify
    rows: int
    files: int = 0
    total: int | None = None
    rows_per_s: float | None = None
    eta_s: float | None = None
    bytes: int | None = None
    errors: int | None = None
    #: figures only one kind of job has (verify: segments_done, segments_total), JSON values
    extra: Mapping[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "files": self.files, "total": self.total, "rows_per_s": self.rows_per_s, "phase": self.phase}
        for name in ("eta_s", "bytes", "errors"):  # a phase's own figures, where it has them
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return {**out, **self.extra}


@dataclass(frozen=True)
class LogEvent(Event):
    message: str
    level: str = "info"  # debug | info | warning | error
    table: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableDone(Event):
    result: TableResult

    @property
    def table(self) -> str:
        return self.result.table

    def record(self) -> dict[str, Any]:
        out = self.result.to_json()
        out.pop("table")
        return out


@dataclass(frozen=True)
class JobFinished(Event):
    message: str  # "Backup operation completed", ...
    success: bool
    rows: int = 0
    files: int = 0
    strategy: str | None = None
    duration_seconds: float | None = None
    successful_tables: tuple[str, ...] | None = None
    failed_tables: tuple[str, ...] | None = None
    run_id: str | None = None
    rows_per_s: float | None = None

    def record(self) -> dict[str, Any]:
        """The fields the job's figures have, in the log's order (absent ones left out)."""
        out: dict[str, Any] = {"success": self.success}
        for name in ("strategy", "duration_seconds", "successful_tables", "failed_tables", "rows", "files", "run_id", "rows_per_s"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


#: every event a job emits; a sink receives exactly these
EngineEvent = JobStarted | Progress | LogEvent | TableDone | JobFinished
EVENT_TYPES = (JobStarted, Progress, LogEvent, TableDone, JobFinished)

