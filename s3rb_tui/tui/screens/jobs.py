"""Jobs / live log: running and recent jobs, the selected job's per-table progress, a bounded live
log, cancel, and a job's detail (Enter).

The app folds engine events into JobState objects and a bounded LogBuffer; this screen drains
both on a short timer, so log writes are batched and a busy job never stalls key handling.
A job that starts is selected (its progress and errors are the ones shown, and ``x`` acts on it);
the selection otherwise follows the job's id, never a row position.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Header, RichLog, Static

from s3rb_tui import display
from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.job_progress import JobProgressView, STATUS_STYLE, table_stats
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar

LOG_PANE_LINES = 1000
FLUSH_SECONDS = 0.2
#: how often the run records are read for runs in progress elsewhere (another host, cron)
REMOTE_SECONDS = 10.0
REMOTE_PREFIX = "run:"
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "debug": "dim"}
COLUMNS = (
    ListColumn("job", "Job"),
    ListColumn("status", "Status"),
    ListColumn("started", "Started"),
    ListColumn("rows", "Rows"),
    ListColumn("files", "Files"),
    ListColumn("elapsed", "Elapsed"),
)


def clock_time(epoch: float | None, stable: bool) -> str:
    """A moment of the console's clock in the one time style (display.moment: UTC, seconds);
    hidden in snapshot mode."""
    if epoch is None:
        return display.MISSING
    return "(hidden)" if stable else display.moment(dt.datetime.fromtimestamp(epoch, dt.timezone.utc))


class JobsScreen(ListScreen):
    LIST_ID = "job-list"
    HELP = (
        "Running and recent jobs (newest first; a job that starts is selected). The selected job "
        "shows one line per table: a bar, rows and files of each step (backup, load), rows/s and, "
        "while it runs, the ETA; below, the live log of every job (long lines wrap). x cancels the "
        "selected job (or the only running one) at its next batch edge: batches already written "
        "stay committed, and the watermark stays consistent. Enter opens the job: its full error, "
        "hint and log lines, each value ready to copy. / filters the jobs, o sorts them. A run in "
        "progress elsewhere (cron, another host) is listed as running on that host since its start, "
        "from its run record. R on a verify job whose table differs repairs it: a plan, a guarded dialog, the "
        "repair, a verify again."
    )
    BINDINGS = [
        Binding("x", "cancel_job", "Cancel job", id="jobs.cancel"),
        Binding("enter", "details", "Details", id="jobs.details"),
        Binding("l", "toggle_log", "Log only", id="jobs.toggle_log", show=False),
        Binding("R", "repair", "Repair rows…", id="jobs.repair", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log_seq = 0
        self._known_jobs: set[str] = set()
        #: runs in progress elsewhere (from their run records), by row key
        self._remote: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("jobs")
        with Vertical(id="jobs"):
            yield FilterBar("/ filter jobs", id="list-filter")
            yield ListTable(COLUMNS, id="job-list")
            yield Static("No jobs yet. Start one from the Dashboard (s, b), Tables (2) or the palette (ctrl+p).", id="job-empty")
            yield JobProgressView(id="job-progress")
            yield Static("", id="job-error", markup=False)
            yield Static("", id="job-remote", markup=False)
            yield RichLog(id="job-log", max_lines=LOG_PANE_LINES, wrap=True, markup=False, auto_scroll=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.jobs_changed()
        self.set_interval(FLUSH_SECONDS, self._flush)
        self.read_remote()
        if self.app.refresh_seconds:
            self.set_interval(REMOTE_SECONDS, self.read_remote)
        self.query_one("#job-list", ListTable).focus()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.jobs_changed()
        self.read_remote()

    def read_remote(self) -> None:
        """Runs in progress elsewhere, from their records (a thread worker reads the store)."""
        store = self.app.workspace.store
        limit = self.app.settings.int("RUN_ABANDONED_AFTER_SECONDS")

        def read():
            from s3rb_tui.engine.history.records import running_records

            try:  # judged on the store's clock (records.py), never this host's
                return running_records(store, written_within=max(limit, 3600))
            except Exception:  # extra information: a store that cannot be read says so on the Dashboard
                return []

        self.load("remote runs", read)

    def loaded(self, what: str, data) -> None:
        if what != "remote runs":
            return
        own = {j.job_id for j in self.app.jobs.values()}
        self._remote = {REMOTE_PREFIX + r.run_id: r for r in data
                        if r.run_id.rsplit("-", 1)[-1] not in own and int(r.doc.get("pid") or 0) != os.getpid()}
        self.jobs_changed()

    def loaded_failed(self, what: str, error: BaseException) -> None:
        self._remote = {}

    # --- rendering ------------------------------------------------------------------------
    def _rows(self) -> list[ListRow]:
        return [self._job_row(j) for j in reversed(list(self.app.jobs.values()))] + [
            self._remote_row(key, rec) for key, rec in self._remote.items()]

    def _remote_row(self, key: str, rec) -> ListRow:
        started = rec.started_at.timestamp() if rec.started_at else None
        title = f"{rec.command} {', '.join(rec.table_names)}"
        cells = (Text(title), Text(f"running on {rec.host}", style="cyan"), clock_time(started, self.app.stable),
                 display.MISSING, display.MISSING, "" if self.app.stable or started is None else display.duration(time.time() - started))
        return ListRow(key, cells, sort_values=(title, "running", started or 0.0, 0, 0, 0.0), search_text=f"{title} running {rec.where}")

    def _job_row(self, j) -> ListRow:
        rows, files = j.totals
        end = j.ended or time.time()
        elapsed = "" if self.app.stable else display.duration(end - j.started)
        style = STATUS_STYLE.get(j.status, "cyan")
        cells = (Text(j.title), Text(j.status, style=style), clock_time(j.started, self.app.stable), display.count(rows), display.count(files), elapsed)
        return ListRow(j.job_id, cells, sort_values=(j.title, j.status, j.started, rows, files, end - j.started), search_text=f"{j.title} {j.status}")

    def jobs_changed(self) -> None:
        """A job started or ended: a new job becomes the selection."""
        jobs = list(self.app.jobs.values())
        new = [j.job_id for j in jobs if j.job_id not in self._known_jobs]
        self._known_jobs.update(new)
        table = self.query_one("#job-list", ListTable)
        table.set_rows(self._rows(), select=new[-1] if new else None)
        self._flush()

    def _selected_id(self) -> str | None:
        return self.query_one("#job-list", ListTable).selected_key

    @on(ListTable.Selected, "#job-list")
    def _job_selected(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        jid = self._selected_id()
        job = self.app.jobs.get(jid) if jid else None
        self.query_one("#job-progress", JobProgressView).show(job, self.app.stable)
        err = self.query_one("#job-error", Static)
        if job is not None and job.error:
            err.update(f"✗ {job.error}" + (f"\n  Hint: {job.hint}" if job.hint else ""))
        err.display = bool(job is not None and job.error)
        remote = self._remote.get(jid or "")
        note = self.query_one("#job-remote", Static)
        if remote is not None:
            note.update(f"{remote.command} running as {remote.where} (user {remote.doc.get('user')}, pid {remote.doc.get('pid')}) "
                        f"since {display.moment(remote.started_at)}; its record: s3rb-tui --run history {remote.run_id}. "
                        "Enter opens it; cancel it on its host.")
        note.display = remote is not None

    def _flush(self) -> None:
        """Batched UI update: new log lines, the selected job's progress, the job list's numbers."""
        lines = self.app.log_buffer.after(self._log_seq)
        if lines:
            log = self.query_one("#job-log", RichLog)
            for ln in lines[-LOG_PANE_LINES:]:
                log.write(self._log_text(ln))
            self._log_seq = lines[-1].seq
        self.query_one("#job-list", ListTable).update_rows(self._rows())
        self._show_selected()
        self.query_one("#job-empty").display = not self.app.jobs and not self._remote

    def _log_text(self, ln) -> Text:
        """One log line: when (the one time style; left out in snapshot mode), table, message."""
        text = Text("" if self.app.stable else f"{clock_time(ln.time, False)} ")
        if ln.table:
            text.append(f"{ln.table} ", style="bold")
        text.append(ln.text, style=LEVEL_STYLE.get(ln.level, ""))
        return text

    # --- actions --------------------------------------------------------------------------
    def action_cancel_job(self) -> None:
        jid = self._selected_id()
        job = self.app.jobs.get(jid) if jid else None
        if jid in self._remote:
            self.notify("that run belongs to another process or host: cancel it there", severity="warning")
            return
        if job is None or not job.running:
            running = self.app.running_jobs()
            if len(running) != 1:
                self.notify("no running job selected" if not running else "select the running job to cancel", severity="warning")
                return
            job = running[0]
            self.query_one("#job-list", ListTable).select(job.job_id)
        if job.status == JobStatus.CANCELLING:
            self.notify(f"{job.title}: already cancelling at the next batch edge")
            return
        job.cancel.cancel("cancelled by the operator")
        job.status = JobStatus.CANCELLING
        self.notify(f"{job.title}: cancelling at the next batch edge")
        self.jobs_changed()

    def action_repair(self) -> None:
        """Repair the table of the selected verify (or repair plan) job (screens/repair_dialog.py)."""
        from s3rb_tui.tui.screens.repair_dialog import start_repair

        jid = self._selected_id()
        job = self.app.jobs.get(jid) if jid else None
        if job is None or job.name not in ("verify", "repair plan", "repair") or len(job.tables) != 1:
            self.notify("select a verify job of one table: R repairs what it found", severity="warning")
            return
        if job.running:
            self.notify(f"{job.title}: still running; R once it has ended", severity="warning")
            return
        start_repair(self.app, job.tables[0])

    def action_toggle_log(self) -> None:
        for w in (self.query_one("#job-list"), self.query_one("#job-progress")):
            w.display = not w.display

    def action_details(self) -> None:
        from s3rb_tui.tui.screens.detail_dialog import DetailDialog

        jid = self._selected_id()
        job = self.app.jobs.get(jid) if jid else None
        if jid in self._remote:
            from s3rb_tui.tui.screens.history import run_detail

            self.app.push_screen(run_detail(self._remote[jid]))
            return
        if job is None:
            return
        rows, files = job.totals
        fields = [
            ("Job", job.title),
            ("Status", job.status),
            ("Started", clock_time(job.started, self.app.stable)),
            ("Ended", clock_time(job.ended, self.app.stable)),
            ("Rows / files", f"{display.count(rows)} / {display.count(files)}"),
            ("Error", job.error or ""),
            ("Hint", job.hint or ""),
        ]
        for p in job.progress.values():
            fields.append((p.table, table_stats(p, self.app.stable).plain))
        lines = []
        for ln in self.app.log_buffer.lines:
            if ln.job_id == job.job_id:
                lines.append(self._log_text(ln))
        self.app.push_screen(DetailDialog(f"Job — {job.title}", fields, lines, lines_title=f"Log ({len(lines)} lines)"))

    def on_data_table_row_selected(self) -> None:
        self.action_details()
