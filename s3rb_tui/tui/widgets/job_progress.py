"""The selected job's progress: one line per table (bar, rows, files, rate, ETA, step), drawn as a
single renderable.

One widget that re-renders, not a row of child widgets per table: switching jobs used to remove
and mount rows while the flush timer updated them, and a row half removed had lost its label
("NoMatches: '.progress-stats'", the console exited). Nothing is mounted or removed here.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from s3rb_tui import display
from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.tui.workers import JobState, TableProgress

BAR_WIDTH = 20
STATUS_STYLE = {JobStatus.FAILED: "bold red", JobStatus.CANCELLED: "yellow", JobStatus.SUCCESS: "green", JobStatus.NO_NEW_DATA: "green"}


def table_stats(p: TableProgress, stable: bool = False) -> Text:
    """What one table did so far: rows and files of each step, the rate and, while it runs, the ETA."""
    text = Text()
    if p.running:
        text.append(f"{p.phase if p.status == JobStatus.RUNNING else p.status}  ", style="cyan")
    else:
        text.append(f"{p.status}  ", style=STATUS_STYLE.get(p.status, ""))
    if p.phase == "load" or p.load_rows or p.load_files:
        if p.rows or p.files:
            text.append(f"backup {p.rows:,} rows, {p.files:,} files · ")
        load_total = f" / {p.load_total:,}" if p.running and p.load_total else ""
        text.append(f"load {p.load_rows:,}{load_total} rows, {p.load_files:,} files")
    else:
        total = f" / {p.total:,}" if p.running and p.total else ""
        text.append(f"{p.rows:,}{total} rows, {p.files:,} files")
    if not stable:
        rate = p.rows_per_s if p.running else p.run_rate
        if rate:
            text.append(f" · {display.rate(rate)}", style="dim")
        eta = p.eta_seconds
        if eta is not None and eta >= 1:
            text.append(f" · ETA {display.duration(eta)}", style="dim")
    if p.error:
        text.append(f"  {p.error}" + (f" — {p.hint}" if p.hint else ""), style="red")
    return text


def table_bar(p: TableProgress) -> ProgressBar:
    rows, total = p.step_rows
    if p.status.ok:
        return ProgressBar(total=1, completed=1, width=BAR_WIDTH)
    if total:
        return ProgressBar(total=max(total, rows), completed=rows, width=BAR_WIDTH)
    return ProgressBar(total=1, completed=0, width=BAR_WIDTH)


def job_progress_renderable(job: JobState, stable: bool = False) -> RenderableType:
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column("table", no_wrap=True, overflow="ellipsis", max_width=48)
    grid.add_column("bar", width=BAR_WIDTH, no_wrap=True)
    grid.add_column("stats", ratio=1, overflow="fold")
    for p in job.progress.values():
        grid.add_row(Text(p.table, style="bold"), table_bar(p), table_stats(p, stable))
    return grid


class JobProgressView(Static):
    """Shows one job's tables; ``show(job)`` redraws (UI thread)."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.job_id: str | None = None

    def show(self, job: JobState | None, stable: bool = False) -> None:
        self.job_id = job.job_id if job else None
        self.update(job_progress_renderable(job, stable) if job is not None else "")
