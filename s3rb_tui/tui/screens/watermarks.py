"""Watermarks: the manual's display (session and cumulative side by side) for the selected table,
the guided reset & set workflow, set-count (absolute/additive) and validate-counts."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Static

from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar
from s3rb_tui.tui.widgets.watermark_view import WatermarkView


def _read_watermarks(ws) -> list:
    from s3rb_tui.tui.views import configured_tables

    names = configured_tables(ws)
    out = []
    for name in names:
        ref = ws.table_ref(name)
        out.append((name, ws.watermarks.get(ref)))
    return out


class WatermarksScreen(ConsoleScreen):
    HELP = (
        "Per-table watermarks as `watermark get` shows them: last data timestamp and key, "
        "extraction time, MySQL/Redshift status, and row counts for the latest session next to "
        "the all-time cumulative totals.\n\n"
        "m starts the guided reset & set: choose, enter a timestamp (checked as you type), see the "
        "preview (source rows after it, store files after it, what a --redshift-only load would "
        "pick up), confirm, and optionally run that load. n sets the cumulative count (absolute or "
        "additive); v validates counts against the warehouse."
    )
    BINDINGS = [
        Binding("m", "watermark_wizard", "Reset/Set…", id="watermarks.wizard"),
        Binding("n", "set_count", "Set count…", id="watermarks.set_count"),
        Binding("v", "validate_counts", "Validate counts", id="watermarks.validate"),
        Binding("r", "refresh", "Refresh", id="watermarks.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("watermarks")
        with Horizontal(id="watermarks"):
            yield DataTable(id="wm-tables", cursor_type="row", classes="side-list")
            with VerticalScroll(id="wm-detail"):
                yield WatermarkView("select a table", id="wm-view")
                yield Static("", id="wm-extra", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        t = self.query_one("#wm-tables", DataTable)
        t.add_columns("Table")
        t.focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        ws = self.app.workspace
        self.load("watermarks", lambda: _read_watermarks(ws))

    def loaded(self, what: str, data: Any) -> None:
        if what == "watermarks":
            self._rows = data
            t = self.query_one("#wm-tables", DataTable)
            t.clear()
            default_schema = self.app.settings.str("DB_DATABASE")
            for name, wm in data:
                shown = name.split(".", 1)[1] if default_schema and name.startswith(default_schema + ".") else name
                t.add_row(shown, key=name)
            names = [n for n, _ in data]
            want = self.app.selected_table if self.app.selected_table in names else (names[0] if names else None)
            if want:
                t.move_cursor(row=names.index(want))
                self._show(want)
            else:
                self.query_one("#wm-view", WatermarkView).update("No tables yet: run a backup from the Tables screen (2).")
        elif what == "validate":
            self.query_one("#wm-extra", Static).update(data)

    def _current(self) -> str | None:
        t = self.query_one("#wm-tables", DataTable)
        if not self._rows or not (0 <= t.cursor_row < len(self._rows)):
            return None
        return self._rows[t.cursor_row][0]

    def _show(self, name: str) -> None:
        wm = dict(self._rows).get(name)
        self.query_one("#wm-view", WatermarkView).show(wm, name, stable=self.app.stable)
        self.query_one("#wm-extra", Static).update("")

    @on(DataTable.RowHighlighted, "#wm-tables")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._rows):
            name = self._rows[event.cursor_row][0]
            self.app.selected_table = name
            self._show(name)

    def action_watermark_wizard(self) -> None:
        from s3rb_tui.tui.screens.watermark_wizard import WatermarkWizard

        name = self._current()
        if not name:
            self.notify("select a table first", severity="warning")
            return

        def done(result: dict | None) -> None:
            self.action_refresh()
            if result and result.get("load"):
                self.app.run_sync([name], redshift_only=True)
                self.app.action_show("jobs")

        self.app.push_screen(WatermarkWizard(name), done)

    def action_set_count(self) -> None:
        from s3rb_tui.tui.screens.count_dialog import SetCountDialog

        name = self._current()
        if name:
            self.app.push_screen(SetCountDialog(name), lambda _: self.action_refresh())

    def action_validate_counts(self) -> None:
        name = self._current()
        if not name:
            return
        ws = self.app.workspace
        self.query_one("#wm-extra", Static).update("validating counts…")

        def validate() -> str:
            from s3rb_tui.engine.counts import validate_table

            return describe_validation(validate_table(ws, ws.table_ref(name)))

        self.load("validate", validate)

    def loaded_failed(self, what: str, error: BaseException) -> None:
        if what == "validate":
            self.query_one("#wm-extra", Static).update(f"validate-counts failed: {error}")


def describe_validation(r: dict) -> str:
    """validate-counts' report as text: the numbers side by side, then what matches and what not."""
    wm, files, wh, ledger = r["watermark"], r["files"], r["warehouse"], r.get("ledger", {})
    lines = [f"Validate counts — {r['table']} → {r['target']} ({r.get('mode')})"]
    src = r.get("source") or {}
    if "error" in src:
        lines.append(f"  source:     not counted ({src['error']})")
    elif src:
        lines.append(f"  source:     {src['rows']:,} rows ({src['rows_up_to_watermark']:,} up to the watermark)")
    lines.append(f"  watermark:  {wm['extracted']:,} extracted, {wm['loaded']:,} loaded")
    lines.append(f"  files:      {files['committed']:,} committed holding {files['rows']:,} rows")
    lines.append(f"  ledger:     {ledger.get('files', 0):,} files, {ledger.get('rows', 0):,} rows")
    lines.append(f"  warehouse:  {wh.get('rows', 0):,} rows" + (f", {wh['distinct_keys']:,} distinct keys" if wh.get("distinct_keys") is not None else ""))
    for item in r.get("expected", []):
        lines.append(f"  ✓ {item}")
    for item in r.get("unexpected", []):
        lines.append(f"  ✗ {item}")
    return "\n".join(lines)
