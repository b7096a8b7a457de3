"""History: every run from every host (the run records under runs/ in the store),
newest first; failed and abandoned runs are marked; ``/`` filters (table, host, status,
command); Enter opens a run with its tables, their errors, hints and last log lines.

The records are read in a thread worker (``ConsoleScreen.load``); the list follows a run's id,
never a row position, so a refresh keeps the selection.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Header, Static

from s3rb_tui import display
from s3rb_tui.engine.history.records import RunRecord
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar

#: runs read per refresh (newest first)
SHOWN_RUNS = 200
STATUS_STYLE = {"failed": "bold red", "abandoned": "bold red", "cancelled": "yellow", "running": "cyan", "success": "green"}
COLUMNS = (
    ListColumn("started", "Started"),
    ListColumn("where", "Where"),
    ListColumn("command", "Command"),
    ListColumn("status", "Status"),
    ListColumn("tables", "OK/failed"),
    ListColumn("rows", "Rows"),
    ListColumn("duration", "Duration"),
    ListColumn("what", "Tables", max_width=60),
)


def status_text(rec: RunRecord) -> Text:
    label = rec.status.upper() if rec.status in ("failed", "abandoned") else rec.status
    if rec.status == "success" and rec.failed_tables:
        label = "success*"
    return Text(("✗ " if rec.status in ("failed", "abandoned") else "") + label, style=STATUS_STYLE.get(rec.status, ""))


def run_row(rec: RunRecord, stable: bool, default_schema: str = "") -> ListRow:
    """One run; tables of DB_DATABASE are shown unscoped (as on the Dashboard), searched by full name."""
    names = ", ".join(rec.table_names)
    prefix = default_schema + "." if default_schema else ""
    shown = ", ".join(n[len(prefix):] if prefix and n.startswith(prefix) else n for n in rec.table_names)
    cells = (
        display.moment(rec.started_at),
        Text(rec.where),
        rec.command,
        status_text(rec),
        f"{len(rec.ok_tables)}/{len(rec.failed_tables)}",
        display.count(rec.rows),
        display.MISSING if stable else display.duration(rec.duration_seconds),
        Text(shown if len(shown) <= 120 else shown[:119] + "…"),
    )
    return ListRow(rec.run_id, cells, sort_values=(rec.doc.get("started_at") or "", rec.where, rec.command, rec.status,
                                                   len(rec.failed_tables), rec.rows, rec.duration_seconds or 0.0, names),
                   search_text=f"{rec.where} {rec.command} {rec.status} {names} {rec.run_id}")


def run_detail(rec: RunRecord):
    """The dialog Enter opens on a run (History, and a run of another host on Jobs)."""
    from s3rb_tui.tui.screens.detail_dialog import DetailDialog

    d = rec.doc
    fields: list[tuple[str, str]] = [
        ("Run id", rec.run_id), ("Command", rec.command), ("Status", rec.status),
        ("Where", f"{rec.where} (user {d.get('user')}, pid {d.get('pid')})"),
        ("Started", display.moment(rec.started_at)), ("Finished", display.moment(rec.finished_at)),
        ("Duration", display.duration(rec.duration_seconds)),
    ]
    if rec.status in ("running", "abandoned"):
        fields.append(("Last heartbeat", display.moment(d.get("heartbeat_at"))))
    if d.get("error"):
        fields += [("Error", str(d["error"])), ("Hint", str(d.get("hint") or ""))]
    lines: list[Text | str] = []
    for t in rec.tables:
        extracted, loaded = t.get("rows_extracted"), t.get("rows_loaded")
        figures = (f"{t.get('status')} · extracted {display.MISSING if extracted is None else display.count(extracted)}"
                   f" · loaded {display.MISSING if loaded is None else display.count(loaded)} · {t.get('files', 0)} files")
        fields.append((str(t.get("table")), figures))
        if t.get("error"):
            fields.append(("  error", str(t["error"])))
        if t.get("hint"):
            fields.append(("  hint", str(t["hint"])))
        for line in t.get("log") or []:
            lines.append(Text(f"{t.get('table')}  {line}", style="red" if " error " in line else ""))
    for line in d.get("log") or []:
        lines.append(line)
    return DetailDialog(f"Run — {rec.command} {rec.status} — {rec.where}", fields, lines,
                        lines_title=f"Last log lines of the failed tables ({len(lines)})" if lines else "")


class HistoryScreen(ListScreen):
    LIST_ID = "run-list"
    HELP = (
        "Every run (backup, sync, verify, repair, rebuild, clean) from every host (console, cron, the CLI), as each run recorded it "
        "in the store under runs/: newest first, failed and abandoned runs marked ✗. Where says how "
        "and on which host (cron@etl-2: no terminal; cli@: typed at a terminal; console@). Enter "
        "opens a run: each table's result, error, hint and last log lines, ready to copy. / filters "
        "(a table, a host, failed), o sorts, r reads the records again."
    )
    BINDINGS = [
        Binding("enter", "details", "Open run", id="history.details"),
        Binding("r", "refresh", "Refresh", id="history.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[str, RunRecord] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("history")
        with Vertical(id="history"):
            yield FilterBar("/ filter runs (table, host, status)", id="list-filter")
            yield ListTable(COLUMNS, id="run-list", zebra_stripes=True, wrap_column="what")
            yield Static("reading the run records…", id="history-note", classes="note", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#run-list", ListTable).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_refresh()

    def action_refresh(self) -> None:
        store = self.app.workspace.store

        def read() -> list[RunRecord]:
            from s3rb_tui.engine.history.records import list_records

            # running or abandoned is judged on the store's clock (records.py), never this host's
            return list_records(store, limit=SHOWN_RUNS)

        self.load("runs", read)

    def loaded(self, what: str, data: Any) -> None:
        if what != "runs":
            return
        self._records = {r.run_id: r for r in data}
        self.query_one("#run-list", ListTable).set_rows([run_row(r, self.app.stable, self.app.settings.str("DB_DATABASE")) for r in data])
        failed = sum(1 for r in data if r.status in ("failed", "abandoned") or r.failed_tables)
        note = (f"{len(data)} run(s), {failed} failed" if data else
                "No runs recorded yet: every backup, sync, verify, repair, rebuild and clean (here, from cron, on any host) writes one.")
        self.query_one("#history-note", Static).update(note)

    def loaded_failed(self, what: str, error: BaseException) -> None:
        self.query_one("#history-note", Static).update(f"the run records could not be read: {error}")

    def selected_record(self) -> RunRecord | None:
        key = self.query_one("#run-list", ListTable).selected_key
        return self._records.get(key) if key else None

    def action_details(self) -> None:
        rec = self.selected_record()
        if rec is not None:
            self.app.push_screen(run_detail(rec))

    def on_data_table_row_selected(self) -> None:
        self.action_details()
