"""One table's progress inside a job: bar, rows, files, rows/s and ETA."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from s3rb_tui.tui.format import human_age
from s3rb_tui.tui.workers import TableProgress


class TableProgressRow(Horizontal):
    def __init__(self, table: str, stable: bool = False) -> None:
        super().__init__(classes="progress-row")
        self.table = table
        self.stable = stable
        self._pending: TableProgress | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.table, classes="progress-name")
        yield ProgressBar(total=None, show_eta=False, show_percentage=True, classes="progress-bar")
        yield Label("", classes="progress-stats")

    def on_mount(self) -> None:
        if self._pending is not None:
            self.show(self._pending)

    def show(self, p: TableProgress) -> None:
        bars = self.query(ProgressBar)
        if not bars:  # not composed yet: shown on mount
            self._pending = p
            return
        bar = bars.first()
        done = p.status not in ("pending", "running")
        if p.total:
            bar.update(total=max(p.total, p.rows), progress=p.rows)
        elif done:
            bar.update(total=max(p.rows, 1), progress=max(p.rows, 1))
        rate = "" if self.stable or not p.rows_per_s else f"  {p.rows_per_s:,.0f} rows/s"
        eta = p.eta_seconds
        eta_text = f"  ETA {human_age(eta)}" if eta is not None and not self.stable else ""
        status = p.status if p.status != "running" else p.phase
        text = f"{p.rows:,} rows  {p.files} files{rate}{eta_text}  [{status}]"
        if p.error:
            text += f"  {p.error}" + (f" — {p.hint}" if p.hint else "")
        label = self.query_one(".progress-stats", Label)
        label.update(Text(text))
        label.set_class(p.status == "failed", "failed")
