"""Dashboard: health of source, store, warehouse and tunnels, and one row per configured table.

A background poll (thread worker, one at a time) reads the status checks and the watermarks;
the screen only renders what the poll brought back. When a poll cannot read something, the
screen says so where the operator looks: the check turns FAIL (or "not checked" when the whole
poll failed) and the table rows it had are kept, dimmed and marked stale with the time they were
read — never the previous poll's "ok".
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Header, Static

from s3rb_tui.display import MISSING, age_between, count, data_timestamp, lag, moment, parse_moment, run_label, short_where
from s3rb_tui.tui.messages import Loaded
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from s3rb_tui.tui.read_models import DashboardData, HealthCheck, TableState

HEALTH_COLUMNS = (ListColumn("check", "Check"), ListColumn("state", "State"), ListColumn("latency", "Latency"), ListColumn("detail", "Detail"))
#: the columns an operator needs first come first: at 80 columns Table, Lag, Last run and To load
#: are on screen, the others scroll into view. Last data comes last and leaves the Last run phrase
#: its room (``trailing``): Lag already says how old the data is, and at 120 columns the phrase,
#: up to 33 characters for a run of another day ("console@ops-1 03-01 06:10 success"), would
#: otherwise get 11 and fold every row onto three lines. Watermarks (3) has the exact timestamp.
TABLE_COLUMNS = (
    ListColumn("table", "Table"),
    ListColumn("lag", "Lag"),
    # "cron@etl-2 02:00 failed" (display.short_where); 40: the longest phrase, "console@<10 chars>
    # 03-01 06:10 abandoned"; wrapped when narrow
    ListColumn("last_run", "Last run", max_width=40, min_width=11),
    ListColumn("to_load", "To load"),
    ListColumn("session", "Run ext/ld"),
    ListColumn("total", "Total ext/ld"),
    ListColumn("last_data", "Last data", trailing=True),
)


class DashboardScreen(ListScreen):
    LIST_ID = "tables"
    HELP = (
        "Health of the source, the object store, the warehouse and SSH tunnels, and one row per "
        "configured table (from its watermark): lag behind now, the last run (how, where, when and its result, e.g. "
        "cron@etl-2 02:00 failed, from the run records; History (7) has every run), rows "
        "extracted but not yet loaded, rows extracted / loaded by the latest run (the watermark's "
        "session counts) and in total (cumulative), and the last data timestamp (scroll right when narrow). "
        "The screen refreshes in the background; r refreshes now. When a refresh cannot read the "
        "store, the check says FAIL and the rows shown are marked stale with the time they were read. "
        "/ filters the tables, o sorts them (or click a column's header). Enter opens the table's watermark. "
        "⚠ after the last run: its run counted rows no watermark can see (a cursor later than the "
        "source's clock, a NULL cursor) or warned about the cursor; the line under the list says "
        "what, for the selected table, and what to do."
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
        #: when the table rows shown were read (None: never), and why they are stale (None: fresh)
        self._tables_read_at: dt.datetime | None = None
        self._stale_reason: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("dashboard")
        with Vertical(id="dashboard"):
            yield Static("Health", classes="section-title")
            yield ListTable(HEALTH_COLUMNS, id="health", cursor_type="none", wrap_column="detail")
            yield Static("Tables", classes="section-title")
            yield FilterBar("/ filter tables", id="list-filter")
            yield ListTable(TABLE_COLUMNS, id="tables", zebra_stripes=True, wrap_column="last_run")
            # the selected table's rows no watermark can see (the latest run's census), if any
            yield Static("", id="table-cursor", classes="note cursor-census", markup=False)
            # until the first poll answers (the first frame does not wait for it)
            yield Static("reading the status checks and watermarks…", id="dashboard-note", classes="note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.app.after_first_frame(self.action_refresh)  # first frame first, then the status checks
        if self.app.refresh_seconds:
            self.set_interval(self.app.refresh_seconds, self.action_refresh)
        self.query_one("#tables", ListTable).focus()

    def action_refresh(self) -> None:
        if self._polling:  # never two polls at once
            return
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="dashboard-poll", exit_on_error=False)
    def _poll(self) -> None:
        try:
            from s3rb_tui.tui.read_models import read_dashboard  # engine imports: off the UI thread

            data = read_dashboard(self.app.workspace)
        except Exception as e:
            self.post_message(Loaded("status", None, e))
            return
        self.post_message(Loaded("status", data))

    def loaded_failed(self, what: str, error: BaseException) -> None:
        from s3rb_tui.tui.workers import describe_error

        self._polling = False
        message, hint = describe_error(error)
        detail = Text(f"the checks could not run: {message}" + (f" — {hint}" if hint else ""), style="red")
        self.query_one("#health", ListTable).set_rows([ListRow("status", ("status", Text("FAIL", style="bold red"), MISSING, detail))])
        self._mark_stale(f"the status could not be read: {message}")

    def loaded(self, what: str, data: DashboardData) -> None:
        self._polling = False
        self._render_health(data.checks)
        if data.tables_error:
            self._mark_stale(data.tables_error)
            return
        self._stale_reason = None
        self._tables_read_at = self.app.now()
        self._render_tables(data.tables)
        self.query_one("#dashboard-note", Static).update(data.note)

    def _mark_stale(self, reason: str) -> None:
        self._stale_reason = reason
        note = self.query_one("#dashboard-note", Static)
        if self._tables_read_at is None:
            note.update(f"{reason} — r tries again")
        else:
            when = moment(self._tables_read_at)
            note.update(Text(f"⚠ stale: table rows as of {when}; {reason} — r tries again", style="bold yellow"))
        self._render_tables(self._tables)

    def _render_health(self, checks: list[HealthCheck]) -> None:
        rows = []
        for c in checks:
            state = Text("ok", style="green") if c.ok else (Text("n/a", style="dim") if c.ok is None else Text("FAIL", style="bold red"))
            latency = MISSING if c.latency_ms is None or self.app.stable else f"{c.latency_ms:.0f} ms"
            detail = c.detail if c.ok is not False else f"{c.detail}" + (f" — {c.hint}" if c.hint else "")
            rows.append(ListRow(c.name, (c.name, state, latency, Text(detail, style="red" if c.ok is False else ""))))
        self.query_one("#health", ListTable).set_rows(rows)

    def _row(self, s: TableState, now: dt.datetime, default_schema: str, stale: bool) -> ListRow:
        last = parse_moment(s.last_data_timestamp)
        # lag: against the console's clock when it is frozen (snapshots), else the engine's
        # figure, which is measured against the source's own clock
        if self.app.clock_frozen:
            lag_seconds = (now - last).total_seconds() if last else None
            lag_text = age_between(last, now)
        else:
            lag_seconds, lag_text = s.lag_seconds, lag(s.lag_seconds)
        result = Text(s.last_run_result or MISSING)
        if s.last_run is not None and not result.plain.startswith("error"):
            where, started, status = s.last_run
            result = Text(run_label(where, started, status, now, short=True))  # the whole host under the list
            if status in ("failed", "abandoned"):
                result.stylize("bold red")
        elif s.last_run_result == "failed" or result.plain.startswith("error"):
            result.stylize("bold red")
        elif s.mysql_status == "manual":
            result = Text("manual (set)", style="yellow")
        if s.cursor_notes:  # rows the watermark cannot see: the detail below says which
            result.append(" ⚠", style="bold yellow")
        schema, _, name = s.table.rpartition(".")
        shown_name = name if schema == default_schema and default_schema else s.table
        waiting = count(s.waiting_rows) + (f" ({s.waiting_files} f)" if s.waiting_files else "")
        cells = [
            Text(shown_name),
            lag_text,
            result,
            waiting,
            f"{count(s.session_extracted)} / {count(s.session_loaded)}",
            f"{count(s.cumulative_extracted)} / {count(s.cumulative_loaded)}",
            data_timestamp(s.last_data_timestamp),
        ]
        if stale:
            cells = [c if isinstance(c, Text) else Text(c) for c in cells]
            for c in cells:
                c.stylize("dim")
            cells[2] = Text("(stale) ", style="yellow") + cells[2]  # first: the column wraps when narrow
        sort_values = (s.table, lag_seconds, result.plain, s.waiting_rows, s.session_extracted, s.cumulative_extracted, str(s.last_data_timestamp or ""))
        return ListRow(s.table, tuple(cells), sort_values=sort_values, search_text=s.table)

    def _render_tables(self, tables: list[TableState]) -> None:
        self._tables = tables
        now = self.app.now()
        default_schema = self.app.settings.str("DB_DATABASE")
        stale = self._stale_reason is not None
        self.query_one("#tables", ListTable).set_rows([self._row(s, now, default_schema, stale) for s in tables], select=self.app.selected_table)
        self._show_cursor_census()

    def _show_cursor_census(self) -> None:
        """Under the list: the selected table's rows the watermark cannot see, as its latest run
        counted them (a cursor later than the source's clock, a NULL cursor) and what to do."""
        name = self._selected()
        state = next((t for t in self._tables if t.table == name), None)
        lines = [f"⚠ {name}: {line}" for line in state.cursor_notes] if state is not None else []
        if state is not None and state.last_run is not None and short_where(state.last_run[0]) != state.last_run[0]:
            where, started, status = state.last_run  # the cell shortened the host: here it is whole
            lines.append(f"{name}: last run {run_label(where, started, status, self.app.now())}")
        note = self.query_one("#table-cursor", Static)
        note.update(Text("\n".join(lines), style="yellow"))
        note.display = bool(lines)

    def _selected(self) -> str | None:
        return self.query_one("#tables", ListTable).selected_key

    @on(ListTable.Selected, "#tables")
    def _table_selected(self, event: ListTable.Selected) -> None:
        self.share_selection(event.key)
        self._show_cursor_census()

    def action_open_watermark(self) -> None:
        if self._selected():
            self.app.selected_table = self._selected()
            self.app.action_show("watermarks")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tables":
            self.action_open_watermark()

    def action_sync(self) -> None:
        table = self._selected()
        if table and self.app.run_sync([table]) is not None:
            self.app.action_show("jobs")

    def action_backup(self) -> None:
        table = self._selected()
        if table and self.app.run_backup([table]) is not None:
            self.app.action_show("jobs")

    def jobs_changed(self) -> None:
        if not self.app.running_jobs():
            self.action_refresh()
