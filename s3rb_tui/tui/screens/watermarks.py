"""Watermarks: the manual's display (session and cumulative side by side) for the selected table,
the guided reset & set workflow, set-count (absolute/additive) and validate-counts.

The selection is the console's ``selected_table`` (shared with Dashboard, Tables and Files) and
follows the table's name, never a row position: a dialog closing, a refresh or a filter keeps it.
A table selected on Tables that has no watermark yet is listed too, so its watermark can be set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Static

from s3rb_tui.display import MISSING, count
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar
from s3rb_tui.tui.widgets.watermark_view import WatermarkView

if TYPE_CHECKING:
    from s3rb_tui.engine.ops.counts import ValidationReport


def _read_watermarks(ws, also: str | None) -> list:
    from s3rb_tui.tui.read_models import configured_tables

    names = configured_tables(ws)
    if also and also not in names:
        names.append(also)
    return [(name, ws.watermarks.get(ws.table_ref(name))) for name in names]


class WatermarksScreen(ListScreen):
    LIST_ID = "wm-tables"
    HELP = (
        "Per-table watermarks as `watermark get` shows them: last data timestamp and key, "
        "extraction time, MySQL/Redshift status, and row counts for the latest session next to "
        "the all-time cumulative totals.\n\n"
        "m starts the guided reset & set: choose, enter a timestamp (checked as you type), see the "
        "preview (source rows after it, store files after it, what a --redshift-only load would "
        "pick up), confirm, and optionally run that load. n sets the cumulative counts (absolute or "
        "additive); v validates counts against the warehouse, V verifies every row (a job), R repairs what differs (plan, guarded dialog, repair, verify again). Enter shows the values (key, "
        "timestamps, last error) ready to copy. / filters the list, o sorts it."
    )
    BINDINGS = [
        Binding("m", "watermark_wizard", "Reset/Set…", id="watermarks.wizard"),
        Binding("n", "set_count", "Set count…", id="watermarks.set_count"),
        Binding("v", "validate_counts", "Validate counts", id="watermarks.validate"),
        Binding("V", "verify", "Verify rows", id="watermarks.verify", show=False),
        Binding("R", "repair", "Repair rows…", id="watermarks.repair", show=False),
        Binding("enter", "details", "Details / copy", id="watermarks.details", show=False),
        Binding("r", "refresh", "Refresh", id="watermarks.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("watermarks")
        with Horizontal(id="watermarks"):
            with Vertical(classes="side-list"):
                yield FilterBar("/ filter tables", id="list-filter")
                yield ListTable((ListColumn("table", "Table"), ListColumn("status", "MySQL")), id="wm-tables")
            with VerticalScroll(id="wm-detail"):
                yield WatermarkView("select a table", id="wm-view")
                yield Static("", id="wm-extra", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#wm-tables", ListTable).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.action_refresh()

    def action_refresh(self) -> None:
        ws, also = self.app.workspace, self.app.selected_table
        self.load("watermarks", lambda: _read_watermarks(ws, also))

    def loaded(self, what: str, data: Any) -> None:
        if what == "watermarks":
            self._rows = data
            default_schema = self.app.settings.str("DB_DATABASE")
            rows = []
            for name, wm in data:
                shown = name.split(".", 1)[1] if default_schema and name.startswith(default_schema + ".") else name
                status = "no watermark" if wm is None else (wm.mysql_status or MISSING)
                rows.append(ListRow(name, (Text(shown), Text(status, style="dim" if wm is None else "")), search_text=name))
            table = self.query_one("#wm-tables", ListTable)
            table.set_rows(rows, select=self.app.selected_table)
            if table.selected_key:
                self._show(table.selected_key)
            else:
                self.query_one("#wm-view", WatermarkView).update("No tables yet: run a backup from the Tables screen (2).")
        elif what == "validate":
            self.query_one("#wm-extra", Static).update(data)

    def _current(self) -> str | None:
        return self.query_one("#wm-tables", ListTable).selected_key

    def _show(self, name: str) -> None:
        wm = dict(self._rows).get(name)
        self.query_one("#wm-view", WatermarkView).show(wm, name, stable=self.app.stable)
        self.query_one("#wm-extra", Static).update("")

    @on(ListTable.Selected, "#wm-tables")
    def _selected(self, event: ListTable.Selected) -> None:
        if event.key:
            self.share_selection(event.key)
            self._show(event.key)

    def action_watermark_wizard(self) -> None:
        from s3rb_tui.tui.screens.watermark_wizard import WatermarkWizard

        name = self._current()
        if not name:
            self.notify("select a table first", severity="warning")
            return

        def done(result: dict | None) -> None:
            self.action_refresh()
            if result and result.get("load"):
                if self.app.run_sync([name], load_only=True) is not None:
                    self.app.action_show("jobs")

        self.app.push_screen(WatermarkWizard(name), done)

    def action_set_count(self) -> None:
        from s3rb_tui.tui.screens.count_dialog import SetCountDialog

        name = self._current()
        if name:
            self.app.push_screen(SetCountDialog(name), lambda _: self.action_refresh())

    def action_details(self) -> None:
        from s3rb_tui.tui.screens.detail_dialog import DetailDialog

        name = self._current()
        if not name:
            return
        wm = dict(self._rows).get(name)
        fields: list[tuple[str, str]] = [("Table", name)]
        if wm is not None:
            fields += [
                ("Last Data Timestamp", "" if wm.last_data_timestamp is None else str(wm.last_data_timestamp)),
                ("Last Key", ", ".join(str(k) for k in wm.last_key or [])),
                ("Last Extraction Time", wm.last_extraction_time or ""),
                ("Committed through", wm.committed_through or ""),
                ("Last Error", wm.last_error or ""),
            ]
        self.app.push_screen(DetailDialog(f"Watermark — {name}", fields))

    def on_data_table_row_selected(self) -> None:
        self.action_details()

    def action_verify(self) -> None:
        """Row-level verify of the selected table as a job (Jobs shows its progress and result)."""
        name = self._current()
        if name and self.app.run_verify([name]) is not None:
            self.app.action_show("jobs")

    def action_repair(self) -> None:
        """Plan (a job), guarded dialog, repair job and a verify again (screens/repair_dialog.py)."""
        from s3rb_tui.tui.screens.repair_dialog import start_repair

        name = self._current()
        if name and start_repair(self.app, name) is not None:
            self.app.action_show("jobs")

    def action_validate_counts(self) -> None:
        name = self._current()
        if not name:
            return
        ws = self.app.workspace
        self.query_one("#wm-extra", Static).update("validating counts…")

        def validate() -> str:
            from s3rb_tui.engine.ops.counts import validate_table

            return describe_validation(validate_table(ws, ws.table_ref(name)))

        self.load("validate", validate)

    def loaded_failed(self, what: str, error: BaseException) -> None:
        if what == "validate":
            self.query_one("#wm-extra", Static).update(f"validate-counts failed: {error}")


def describe_validation(r: ValidationReport) -> str:
    """validate-counts' report (the engine's ValidationReport, as the CLI renders it) as text: the
    numbers side by side, then what matches and what not."""
    wm, files, wh, ledger, src = r.watermark, r.files, r.warehouse, r.ledger, r.source
    lines = [f"Validate counts — {r.table} → {r.target} ({r.mode})"]
    if src is not None and src.error is not None:
        lines.append(f"  source:     not counted ({src.error})")
    elif src is not None:
        lines.append(f"  source:     {count(src.rows)} rows ({count(src.rows_up_to_watermark)} up to the watermark)")
    lines.append(f"  watermark:  {wm.extracted:,} extracted, {wm.loaded:,} loaded")
    lines.append(f"  files:      {files.committed:,} committed holding {files.rows:,} rows")
    lines.append(f"  ledger:     {ledger.files:,} files, {ledger.rows:,} rows")
    lines.append(f"  warehouse:  {wh.rows:,} rows" + (f", {wh.distinct_keys:,} distinct keys" if wh.distinct_keys is not None else ""))
    for item in r.expected:
        lines.append(f"  ✓ {item}")
    for item in r.unexpected:
        lines.append(f"  ✗ {item}")
    return "\n".join(lines)
