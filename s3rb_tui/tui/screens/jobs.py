"""Jobs / live log: running and recent jobs, per-table progress, a bounded live log, cancel.

The app folds engine events into JobState objects and a bounded LogBuffer; this screen drains
both on a short timer, so log writes are batched and a busy job never stalls key handling.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Header, RichLog, Static

from s3rb_tui.tui.format import human_age
from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar
from s3rb_tui.tui.widgets.progress import TableProgressRow

LOG_PANE_LINES = 1000
FLUSH_SECONDS = 0.2
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "debug": "dim"}


class JobsScreen(ConsoleScreen):
    HELP = (
        "Running and recent jobs. The selected job shows a progress bar per table (rows, files, "
        "rows/s, ETA) and the live log below (the newest lines of every job; older ones scroll "
        "away). x cancels the selected job at its next batch edge: batches already written stay "
        "committed, and the watermark stays consistent. Errors show the engine's hint."
    )
    BINDINGS = [
        Binding("x", "cancel_job", "Cancel job", id="jobs.cancel"),
        Binding("l", "toggle_log", "Log only", id="jobs.toggle_log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log_seq = 0
        self._job_ids: list[str] = []
        self._shown_job: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("jobs")
        with Vertical(id="jobs"):
            yield DataTable(id="job-list", cursor_type="row")
            yield Static("No jobs yet. Start one from the Dashboard (s, b), Tables (2) or the palette (ctrl+p).", id="job-empty")
            yield VerticalScroll(id="job-progress")
            yield Static("", id="job-error", markup=False)
            yield RichLog(id="job-log", max_lines=LOG_PANE_LINES, wrap=False, markup=False, auto_scroll=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        t = self.query_one("#job-list", DataTable)
        t.add_columns("Job", "Status", "Rows", "Files", "Elapsed")
        self.jobs_changed()
        self.set_interval(FLUSH_SECONDS, self._flush)
        t.focus()

    def on_screen_resume(self) -> None:
        self.jobs_changed()

    # --- rendering ------------------------------------------------------------------------
    def jobs_changed(self) -> None:
        jobs = list(self.app.jobs.values())[::-1]
        t = self.query_one("#job-list", DataTable)
        selected = self._selected_id()
        self._job_ids = [j.job_id for j in jobs]
        t.clear()
        for j in jobs:
            t.add_row(*self._job_cells(j), key=j.job_id)
        if jobs:
            row = self._job_ids.index(selected) if selected in self._job_ids else 0
            t.move_cursor(row=row)
            self._show_job(self._job_ids[row])
        self._flush()

    def _job_cells(self, j) -> tuple:
        rows, files = j.totals
        end = j.ended or time.time()
        elapsed = "" if self.app.stable else human_age(end - j.started)
        style = {"failed": "bold red", "cancelled": "yellow", "success": "green"}.get(j.status, "cyan")
        return (j.title, Text(j.status, style=style), f"{rows:,}", str(files), elapsed)

    def _selected_id(self) -> str | None:
        t = self.query_one("#job-list", DataTable)
        if 0 <= t.cursor_row < len(self._job_ids):
            return self._job_ids[t.cursor_row]
        return None

    @on(DataTable.RowHighlighted, "#job-list")
    def _highlighted(self) -> None:
        jid = self._selected_id()
        if jid and jid != self._shown_job:
            self._show_job(jid)

    def _show_job(self, job_id: str) -> None:
        job = self.app.jobs[job_id]
        box = self.query_one("#job-progress", VerticalScroll)
        if self._shown_job != job_id or len(box.query(TableProgressRow)) != len(job.progress):
            box.remove_children()
            box.mount_all([TableProgressRow(name, stable=self.app.stable) for name in job.progress])
            self._shown_job = job_id
            self.call_after_refresh(self._flush)
        self._update_error(job)

    def _update_error(self, job) -> None:
        err = self.query_one("#job-error", Static)
        err.update(f"✗ {job.error}" + (f"\n  Hint: {job.hint}" if job.hint else "") if job.error else "")
        err.display = bool(job.error)

    def _flush(self) -> None:
        """Batched UI update: new log lines, the selected job's bars, the job list's numbers."""
        lines = self.app.log_buffer.after(self._log_seq)
        if lines:
            log = self.query_one("#job-log", RichLog)
            for ln in lines[-LOG_PANE_LINES:]:
                stamp = "--:--:--" if self.app.stable else time.strftime("%H:%M:%S", time.localtime(ln.time))
                text = Text(f"{stamp} ")
                if ln.table:
                    text.append(f"{ln.table} ", style="bold")
                text.append(ln.text, style=LEVEL_STYLE.get(ln.level, ""))
                log.write(text)
            self._log_seq = lines[-1].seq
        job = self.app.jobs.get(self._shown_job) if self._shown_job else None
        if job is not None:
            for row in self.query(TableProgressRow):
                if row.table in job.progress:
                    row.show(job.progress[row.table])
            self._update_error(job)
        t = self.query_one("#job-list", DataTable)
        for j in self.app.jobs.values():
            if j.running or j.job_id == self._shown_job:
                try:
                    for col, value in zip(t.columns, self._job_cells(j)):
                        t.update_cell(j.job_id, col, value)
                except Exception:
                    pass  # the row appears with the next jobs_changed
        self.query_one("#job-empty").display = not self.app.jobs

    # --- actions --------------------------------------------------------------------------
    def action_cancel_job(self) -> None:
        jid = self._selected_id()
        job = self.app.jobs.get(jid) if jid else None
        if job is None or not job.running:
            self.notify("no running job selected", severity="warning")
            return
        job.cancel.cancel("cancelled by the operator")
        job.status = "cancelling"
        self.notify(f"{job.title}: cancelling at the next batch edge")
        self.jobs_changed()

    def action_toggle_log(self) -> None:
        for w in (self.query_one("#job-list"), self.query_one("#job-progress")):
            w.display = not w.display
