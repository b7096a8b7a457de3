"""Dashboard: health of source, store, warehouse and tunnels, and one row per configured table.

A background poll (thread worker, one at a time) reads the status checks and the watermarks;
the screen only renders what the poll brought back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Header, Static

from s3rb_tui.tui.format import age_between, count, human_age, parse_timestamp, short_time
from s3rb_tui.tui.messages import Loaded
from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from s3rb_tui.tui.views import HealthCheck, TableState


class DashboardScreen(ConsoleScreen):
    HELP = (
        "Health of the source, the object store, the warehouse and SSH tunnels, and one row per "
        "configured table (from its watermark): last data timestamp, lag behind now, the last run's "
        "result, session and cumulative counts, and rows extracted but not yet loaded. The screen "
        "refreshes in the background; r refreshes now. Enter opens the table's watermark."
    )
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
        Binding("enter", "open_watermark", "Watermark", id="dashboard.watermark", show=False),
        Binding("s", "sync", "Sync table", id="dashboard.sync"),
        Binding("b", "backup", "Backup table", id="dashboard.backup"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._polling = False
        self._tables: list[TableState] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("dashboard")
        with Vertical(id="dashboard"):
            yield Static("Health", classes="section-title")
            yield DataTable(id="health", cursor_type="row", zebra_stripes=False)
            yield Static("Tables", classes="section-title")
            yield DataTable(id="tables", cursor_type="row", zebra_stripes=True)
            # until the first poll answers (the first frame does not wait for it)
            yield Static("reading the status checks and watermarks…", id="dashboard-note", classes="note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        health = self.query_one("#health", DataTable)
        health.add_columns("Check", "State", "Latency", "Detail")
        tables = self.query_one("#tables", DataTable)
        tables.add_columns("Table", "Last data", "Lag", "Last run", "Session ext/ld", "Total ext/ld", "To load")
        self.app.after_first_frame(self.action_refresh)  # first frame first, then the status checks
        if self.app.refresh_seconds:
            self.set_interval(self.app.refresh_seconds, self.action_refresh)
        tables.focus()

    def action_refresh(self) -> None:
        if self._polling:  # never two polls at once
            return
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="dashboard-poll", exit_on_error=False)
    def _poll(self) -> None:
        try:
            from s3rb_tui.tui.views import read_dashboard  # engine imports: off the UI thread

            data = read_dashboard(self.app.workspace)
        except Exception as e:
            self.post_message(Loaded("status", None, e))
            return
        self.post_message(Loaded("status", data))

    def loaded_failed(self, what: str, error: BaseException) -> None:
        self._polling = False
        if not self._tables:  # nothing read yet: say so instead of "reading…" (the error is notified)
            self.query_one("#dashboard-note", Static).update("status unavailable: r tries again")

    def loaded(self, what: str, data: Any) -> None:
        self._polling = False
        checks, tables, note = data
        self._render_health(checks)
        self._render_tables(tables)
        self.query_one("#dashboard-note", Static).update(note)

    def _render_health(self, checks: list[HealthCheck]) -> None:
        t = self.query_one("#health", DataTable)
        t.clear()
        for c in checks:
            state = Text("ok", style="green") if c.ok else (Text("n/a", style="dim") if c.ok is None else Text("FAIL", style="bold red"))
            latency = "—" if c.latency_ms is None or self.app.stable else f"{c.latency_ms:.0f} ms"
            detail = c.detail if c.ok is not False else f"{c.detail}" + (f" — {c.hint}" if c.hint else "")
            t.add_row(c.name, state, latency, Text(detail, style="red" if c.ok is False else ""), key=c.name)

    def _render_tables(self, tables: list[TableState]) -> None:
        self._tables = tables
        t = self.query_one("#tables", DataTable)
        keep = t.cursor_row
        t.clear()
        now = self.app.now()
        default_schema = self.app.settings.str("DB_DATABASE")
        for s in tables:
            last = parse_timestamp(s.last_data_timestamp)
            # lag: against the console's clock when it is frozen (snapshots), else the engine's
            # figure, which is measured against the source's own clock
            lag = (age_between(last, now) if last else "—") if self.app.clock_frozen else human_age(s.lag_seconds)
            result = Text(s.last_run_result or "—")
            if s.last_run_result == "failed" or result.plain.startswith("error"):
                result.stylize("bold red")
            elif s.mysql_status == "manual":
                result = Text("manual (set)", style="yellow")
            shown_name = s.table.split(".", 1)[1] if s.table.startswith(default_schema + ".") and default_schema else s.table
            t.add_row(
                shown_name,
                short_time(str(s.last_data_timestamp)) if s.last_data_timestamp is not None else "—",
                lag,
                result,
                f"{count(s.session_extracted)} / {count(s.session_loaded)}",
                f"{count(s.cumulative_extracted)} / {count(s.cumulative_loaded)}",
                count(s.waiting_rows) + (f" ({s.waiting_files} f)" if s.waiting_files else ""),
                key=s.table,
            )
        if tables:
            t.move_cursor(row=min(max(keep, 0), len(tables) - 1))

    def _selected(self) -> str | None:
        t = self.query_one("#tables", DataTable)
        if not self._tables or t.cursor_row < 0 or t.cursor_row >= len(self._tables):
            return None
        return self._tables[t.cursor_row].table

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "tables" and self._selected():
            self.app.selected_table = self._selected()

    def action_open_watermark(self) -> None:
        if self._selected():
            self.app.selected_table = self._selected()
            self.app.action_show("watermarks")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tables":
            self.action_open_watermark()

    def action_sync(self) -> None:
        table = self._selected()
        if table:
            self.app.run_sync([table])
            self.app.action_show("jobs")

    def action_backup(self) -> None:
        table = self._selected()
        if table:
            self.app.run_backup([table])
            self.app.action_show("jobs")

    def jobs_changed(self) -> None:
        if not self.app.running_jobs():
            self.action_refresh()
