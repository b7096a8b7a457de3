"""What every run (backup, sync, verify, repair, rebuild, clean, s3clean) does besides its work, for
both front ends: its record in the store (recorder), and after the end the metrics file (metrics,
backup and sync only: the commands that take ``--metrics-file``) and the alert (alerts), in that
order: the file is written before a slow webhook can hold the run up.

``tracked_run`` wraps a job: the record is written before the job starts and completed after it
ends, whatever happened (a dry run has none: it writes nothing anywhere). A run refused as bad
input before any table began, or one the operator declined at the confirmation prompt
(``TrackedRun.decline``), leaves no record: nothing happened. None of it can change the job's
outcome: each part logs its own failure as a warning and the caller's exit code stays the job's.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator

from s3rb_tui.engine.history.alerts import Delivery, send_alerts
from s3rb_tui.engine.history.metrics import write_metrics
from s3rb_tui.engine.history.recorder import RunRecorder
from s3rb_tui.engine.core.errors import ConfigError, UsageError
from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.core.jobs import JobContext

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


class TrackedRun:
    def __init__(self, ws: "Workspace", ctx: JobContext, *, command: str, options: dict[str, Any], trigger: str,
                 tables: list[str], interactive: bool = False, redact: Callable[[str], str] = lambda s: s,
                 log: Callable[..., None] | None = None, metrics_file: str | None = None):
        s = ws.settings
        self.ws = ws
        self.ctx = ctx
        self.log = log or ws.log
        self.redact = redact
        self.metrics_file = metrics_file
        self.dry_run = bool(options.get("dry_run"))
        self.doc: dict[str, Any] | None = None
        self.deliveries: list[Delivery] = []
        #: the job's results, set by the caller (else the context's table results are used)
        self.results: list[TableResult] | None = None
        self.recorder: RunRecorder | None = None
        self.declined = False
        if self.dry_run:  # a dry run changes nothing, its record included (--readonly allows it)
            return
        try:
            self.recorder = RunRecorder(
                ws.store, job_id=ctx.job_id, command=command, options=options, trigger=trigger, tables=tables,
                heartbeat_seconds=s.int("RUN_HEARTBEAT_SECONDS"), stale_after_seconds=s.int("RUN_ABANDONED_AFTER_SECONDS"),
                keep_days=s.int("RUN_HISTORY_DAYS"), redact=redact, log=self.log, interactive=interactive)
        except Exception as e:  # e.g. the store cannot be opened: the job reports that itself
            self.log("run record not written; the run goes on", level="warning", error=redact(f"{e.__class__.__name__}: {e}"))

    @property
    def run_id(self) -> str | None:
        return self.recorder.run_id if self.recorder is not None else None

    def start(self) -> None:
        if self.recorder is not None:
            self.recorder.start()
            self.ctx.subscribe(self.recorder.on_event)
            # said at debug level here, at info once completed: a refused run stays one error line
            self.log("run record started", level="debug", run_id=self.recorder.run_id)

    def decline(self) -> None:
        """The operator said no at the confirmation prompt: nothing changed, so no record stays."""
        self.declined = True

    def finish(self, error: BaseException | None) -> dict[str, Any] | None:
        if self.recorder is None:
            return None
        results = self.results if self.results is not None else list(self.ctx.results)
        if self.declined or isinstance(error, (UsageError, ConfigError)) and not results:
            self.recorder.discard()  # refused before any table began: bad input changes nothing
            return None
        self.doc = self.recorder.finish(results, error)
        self.log("run recorded", run_id=self.recorder.run_id, status=self.doc.get("status"))
        if self.metrics_file:
            write_metrics(self.ws, self.metrics_file, self.doc, self.log)
        url = self.ws.settings.str("ALERT_WEBHOOK_URL")
        if url:
            self.deliveries = send_alerts(self.ws.store, url, self.ws.settings.str("ALERT_ON"), self.doc,
                                          redact=self.redact, log=self.log)
        return self.doc


@contextlib.contextmanager
def tracked_run(ws: "Workspace", ctx: JobContext, **kwargs: Any) -> Iterator[TrackedRun]:
    run = TrackedRun(ws, ctx, **kwargs)
    run.start()
    try:
        yield run
    except BaseException as e:
        run.finish(e)
        raise
    run.finish(None)


def recorded_job(ws: "Workspace", fn: Callable[[JobContext], Any], *, command: str, options: dict[str, Any],
                 tables: list[str], redact: Callable[[str], str] = lambda s: s) -> Callable[[JobContext], Any]:
    """``fn`` (a console job returning its TableResults) inside ``tracked_run``, for the console's
    job runner: a verify, a clean or a repair started from a screen is recorded like a headless one."""

    def job(ctx: JobContext) -> Any:
        with tracked_run(ws, ctx, command=command, options=options, trigger="console", tables=tables, redact=redact) as run:
            out = fn(ctx)
            if isinstance(out, list):
                run.results = out
        return out

    return job
