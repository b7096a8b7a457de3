"""Messages that carry engine results from thread workers to the UI thread.

Workers never touch widgets: they post one of these, and a handler on the UI thread applies it.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from s3rb_tui.engine.core.events import EngineEvent, TableResult


class JobEvent(Message):
    """One typed engine event (JobStarted, Progress, LogEvent, TableDone, JobFinished) of a running job."""

    def __init__(self, job_id: str, event: EngineEvent) -> None:
        super().__init__()
        self.job_id = job_id
        self.event = event


class JobEnded(Message):
    """A job's worker returned (results) or raised (error)."""

    def __init__(self, job_id: str, results: list[TableResult], error: BaseException | None) -> None:
        super().__init__()
        self.job_id = job_id
        self.results = results
        self.error = error


class JobsChanged(Message):
    """A job started or ended; screens that list jobs refresh."""


class Loaded(Message):
    """A screen's background read finished: ``what`` names the data, ``data`` carries it."""

    def __init__(self, what: str, data: Any, error: BaseException | None = None) -> None:
        super().__init__()
        self.what = what
        self.data = data
        self.error = error
