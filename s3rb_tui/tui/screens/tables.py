"""Tables: browse the source schema (views marked), filter with /, and for the selected table see
its columns, types, key, cursor column, the warehouse type each column gets and the preflight
warnings; start backup, sync, load only, a dry run (estimate) or a counts check."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Input, Static

from s3rb_tui.tui.format import count
from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar


def warehouse_dialect(settings) -> str:
    d = settings.str("WAREHOUSE_DIALECT")
    return d if d in ("redshift", "postgres", "duckdb") else "redshift"


def read_source_tables(ws) -> tuple[str, list]:
    schema = ws.settings.str("DB_DATABASE")
    with ws.open_source() as source:
        return schema, source.list_tables(schema)


def read_table_detail(ws, name: str, dialect: str) -> dict[str, Any]:
    from s3rb_tui.engine.schema import UnsupportedType, preflight, warehouse_type

    ref = ws.table_ref(name)
    cfg = ws.table_config(ref)
    with ws.open_source() as source:
        schema = source.discover(ref, cfg.cursor_column, cfg.key_columns)
    columns = []
    for c in schema.columns:
        try:
            target = warehouse_type(c, dialect)
        except UnsupportedType:
            target = "unsupported"
        columns.append((c.name, c.column_type or c.data_type, c.nullable, c.name in schema.primary_key, c.name == schema.cursor_column, target))
    return {"schema": schema, "columns": columns, "warnings": preflight(schema, dialect), "dialect": dialect}


class TablesScreen(ConsoleScreen):
    HELP = (
        "The source database's tables and views (views are marked and cannot be incremental). "
        "/ filters by name. For the selected table: its columns with MySQL type, key and cursor "
        "column, the type the warehouse will create, and preflight warnings (values the warehouse "
        "cannot hold, missing cursor or key).\n\n"
        "b backs up, s syncs (backup then load), l loads only (--redshift-only), e is a dry run "
        "(window and estimated rows, writes nothing), v validates counts (source, files, load ledger "
        "and warehouse side by side; read-only)."
    )
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="tables.filter"),
        Binding("b", "backup", "Backup", id="tables.backup"),
        Binding("s", "sync", "Sync", id="tables.sync"),
        Binding("l", "load_only", "Load only", id="tables.load_only"),
        Binding("e", "dry_run", "Dry run", id="tables.dry_run"),
        Binding("v", "validate_counts", "Validate counts", id="tables.validate"),
        Binding("r", "refresh", "Refresh", id="tables.refresh"),
        Binding("escape", "clear_filter", "Clear filter", id="tables.clear_filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._all: list = []
        self._shown: list = []
        self._schema = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("tables")
        with Horizontal(id="tables-screen"):
            with Vertical(id="tables-left", classes="side-list"):
                yield Input(placeholder="/ filter tables", id="table-filter")
                yield DataTable(id="source-tables", cursor_type="row")
            with Vertical(id="tables-right"):
                yield Static("", id="table-title", classes="section-title", markup=False)
                yield DataTable(id="columns", cursor_type="row", zebra_stripes=True)
                yield Static("", id="preflight", classes="note")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#source-tables", DataTable).add_columns("Table", "Rows≈")
        self.query_one("#columns", DataTable).add_columns("Column", "MySQL type", "Null", "Key", "Cursor", "Warehouse type")
        self.query_one("#table-filter").display = False
        self.query_one("#source-tables", DataTable).focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        ws = self.app.workspace
        self.load("tables", lambda: read_source_tables(ws))

    def loaded(self, what: str, data: Any) -> None:
        if what == "tables":
            self._schema, self._all = data
            self._apply_filter(self.query_one("#table-filter", Input).value)
        elif what.startswith("detail:"):
            self._show_detail(what[7:], data)
        elif what.startswith("validate:"):
            from s3rb_tui.tui.screens.dialogs import InfoDialog

            self.app.push_screen(InfoDialog("Validate counts", data))

    def _apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        self._shown = [t for t in self._all if text in t.ref.full_name.lower()]
        t = self.query_one("#source-tables", DataTable)
        t.clear()
        for info in self._shown:
            name = Text(info.ref.name)
            if info.is_view:
                name.append("  (view)", style="italic magenta")
            t.add_row(name, count(info.estimated_rows), key=info.ref.full_name)
        if self._shown:
            names = [i.ref.full_name for i in self._shown]
            row = names.index(self.app.selected_table) if self.app.selected_table in names else 0
            t.move_cursor(row=row)
            self._request_detail(names[row])
        else:
            self.query_one("#table-title", Static).update("no tables match" if self._all else f"no tables in {self._schema or '(DB_DATABASE empty)'}")

    def _current(self) -> str | None:
        t = self.query_one("#source-tables", DataTable)
        if 0 <= t.cursor_row < len(self._shown):
            return self._shown[t.cursor_row].ref.full_name
        return None

    @on(DataTable.RowHighlighted, "#source-tables")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._shown):
            name = self._shown[event.cursor_row].ref.full_name
            self.app.selected_table = name
            self._request_detail(name)

    def _request_detail(self, name: str) -> None:
        ws, dialect = self.app.workspace, warehouse_dialect(self.app.settings)
        self.query_one("#table-title", Static).update(f"{name}: reading columns…")
        self.load(f"detail:{name}", lambda: read_table_detail(ws, name, dialect))

    def _show_detail(self, name: str, d: dict[str, Any]) -> None:
        if name != self._current():
            return
        schema = d["schema"]
        mode = "incremental" if schema.incremental else "full snapshot every run"
        title = f"{name}{' (view)' if schema.is_view else ''} — {mode}; cursor {schema.cursor_column or '—'}; key {', '.join(schema.primary_key) or '—'}; warehouse {d['dialect']}"
        self.query_one("#table-title", Static).update(title)
        t = self.query_one("#columns", DataTable)
        t.clear()
        for col, mysql_type, nullable, key, cursor, target in d["columns"]:
            t.add_row(Text(col), Text(mysql_type), "yes" if nullable else "no", "PK" if key else "", "cursor" if cursor else "", Text(target, style="red" if target == "unsupported" else ""))
        warnings = d["warnings"]
        text = Text()
        if warnings:
            text.append("Preflight warnings:\n", style="bold yellow")
            for w in warnings:
                text.append(f"  ! {w}\n", style="yellow")
        else:
            text.append("Preflight: no warnings", style="green")
        self.query_one("#preflight", Static).update(text)

    # --- filter ---------------------------------------------------------------------------
    def action_filter(self) -> None:
        f = self.query_one("#table-filter", Input)
        f.display = True
        f.focus()

    def action_clear_filter(self) -> None:
        f = self.query_one("#table-filter", Input)
        f.value = ""
        f.display = False
        self.query_one("#source-tables", DataTable).focus()

    @on(Input.Changed, "#table-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    @on(Input.Submitted, "#table-filter")
    def _filter_done(self) -> None:
        self.query_one("#source-tables", DataTable).focus()

    # --- jobs -----------------------------------------------------------------------------
    def _start(self, start) -> None:
        name = self._current()
        if not name:
            self.notify("select a table first", severity="warning")
            return
        if start(name) is not None:
            self.app.action_show("jobs")

    def action_backup(self) -> None:
        self._start(lambda n: self.app.run_backup([n]))

    def action_sync(self) -> None:
        self._start(lambda n: self.app.run_sync([n]))

    def action_load_only(self) -> None:
        self._start(lambda n: self.app.run_sync([n], redshift_only=True))

    def action_dry_run(self) -> None:
        self._start(lambda n: self.app.run_backup([n], dry_run=True))

    def action_validate_counts(self) -> None:
        from s3rb_tui.tui.screens.watermarks import describe_validation

        name = self._current()
        if not name:
            return
        ws = self.app.workspace

        def validate() -> str:
            from s3rb_tui.engine.counts import validate_table

            return describe_validation(validate_table(ws, ws.table_ref(name)))

        self.notify(f"validating counts of {name}…")
        self.load(f"validate:{name}", validate)
