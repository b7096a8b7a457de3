"""Config: every setting with secrets masked, where each value came from, and what is wrong."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Header, Static

from s3rb_tui.settings import VARS_BY_NAME
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar

COLUMNS = (ListColumn("variable", "Variable"), ListColumn("value", "Value", max_width=40), ListColumn("source", "Source"), ListColumn("meaning", "Meaning"))


class ConfigScreen(ListScreen):
    LIST_ID = "config-table"
    HELP = (
        "Every setting the console runs with. Secrets are shown as ****. The Source column says "
        "where a value came from (environment, the .env file, an override such as the demo, or the "
        "default). Problems that stop jobs from working are listed in red at the top. / filters (by "
        "name, value or meaning), o sorts."
    )
    BINDINGS = [Binding("r", "refresh", "Refresh", id="config.refresh")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("config")
        with Vertical(id="config"):
            yield Static("", id="config-summary")
            yield FilterBar("/ filter settings", id="list-filter")
            yield ListTable(COLUMNS, id="config-table", zebra_stripes=True, wrap_column="meaning")
        yield KeyFooter()

    def on_mount(self) -> None:
        t = self.query_one("#config-table", ListTable)
        self.action_refresh()
        t.focus()

    def action_refresh(self) -> None:
        s = self.app.settings
        summary = Text()
        where = str(s.env_file) if s.env_file else "no .env file read (environment and defaults only)"
        summary.append("Settings from: ", style="bold")
        summary.append(where + "\n")
        for p in s.problems:
            summary.append(f"✗ {p}\n", style="bold red")
        for w in s.warnings:
            summary.append(f"! {w}\n", style="yellow")
        if not s.problems:
            summary.append("✓ no problems found\n", style="green")
        self.query_one("#config-summary", Static).update(summary)
        problem_names = {v for p in s.problems for v in VARS_BY_NAME if p.startswith(v) or f" {v} " in f" {p} "}
        rows = []
        for name, shown, source in s.masked():
            var = VARS_BY_NAME[name]
            style = "bold red" if name in problem_names else ("dim" if source == "default" else "")
            rows.append(ListRow(name, (Text(name, style=style), Text(shown, style=style), source, Text(var.help))))
        self.query_one("#config-table", ListTable).set_rows(rows)
