"""Tables: browse the source's tables grouped by schema (views marked), filter with /, sort with o,
mark several with space, and for the selected table see its columns, types, key, cursor column,
the warehouse type each column gets and the preflight warnings; start backup, sync, load only or
a dry run (estimate) of the marked tables (or the selected one), or a counts check."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Static

from s3rb_tui.display import MISSING, count
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.list_table import ListColumn, ListRow, ListTable
from s3rb_tui.tui.widgets.nav import NavBar


def warehouse_dialect(settings) -> str:
    d = settings.str("WAREHOUSE_DIALECT")
    return d if d in ("redshift", "postgres", "duckdb") else "redshift"


def read_source_tables(ws) -> list:
    """Every table and view (TableInfo) of the schemas in DB_SCHEMAS, or else of every schema the
    user may read (engine/wiring/catalog.py), grouped by schema on screen."""
    from s3rb_tui.engine.wiring.catalog import readable_schemas

    listed = [name.strip() for name in ws.settings.str("DB_SCHEMAS").split(",") if name.strip()]
    with ws.open_source() as source:
        groups = readable_schemas(source, only=listed or None)
    return [info for group in groups for info in group.tables]


def read_table_detail(ws, name: str, dialect: str) -> dict[str, Any]:
    from s3rb_tui.engine.core.type_rules import UnsupportedType, preflight, warehouse_type

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
    from s3rb_tui.tui.read_models import cursor_census_lines

    try:  # what the latest run counted that no watermark can see (shown with the preflight)
        census_of = ws.watermarks.get(ref)
    except Exception:
        census_of = None
    census = (census_of.cursor_census or {}) if census_of is not None else {}
    cursor_notes = cursor_census_lines(census.get("future_rows"), census.get("null_rows"),
                                       census_of.cursor_warnings if census_of is not None else ())
    return {"schema": schema, "columns": columns, "warnings": preflight(schema, dialect), "dialect": dialect, "cursor_notes": cursor_notes}


class TablesScreen(ListScreen):
    LIST_ID = "source-tables"
    HELP = (
        "The source's tables and views, grouped by schema: every schema the user may read, or those "
        "of DB_SCHEMAS (views are marked and cannot be incremental). / filters by name, o sorts (or click a column's header). space marks a table "
        "(on a schema's line: all its tables); b, s, l and e then act on every marked table, or on "
        "the selected one when none is marked. For the selected table: its columns with MySQL type, "
        "key and cursor column, the type the warehouse will create, and preflight warnings (values "
        "the warehouse cannot hold, missing cursor or key).\n\n"
        "b backs up, s syncs (backup then load), l loads only (--redshift-only), e is a dry run "
        "(window and estimated rows, writes nothing), v validates counts (source, files, load ledger "
        "and warehouse side by side; read-only), V verifies every row (checksummed key segments on both sides, then the "
        "keys that differ, by kind, in the job's log; read-only), R repairs the selected table: a verify "
        "plans it (re-extract N keys, delete M warehouse rows, the ratio guard's verdict), a dialog asks "
        "(the table name typed above 100 changes or past the guard), then a repair batch is loaded and "
        "the table verified again."
    )
    BINDINGS = [
        Binding("space", "mark", "Mark", id="tables.mark"),
        Binding("b", "backup", "Backup", id="tables.backup"),
        Binding("s", "sync", "Sync", id="tables.sync"),
        Binding("l", "load_only", "Load only", id="tables.load_only"),
        Binding("e", "dry_run", "Dry run", id="tables.dry_run", show=False),
        Binding("v", "validate_counts", "Validate counts", id="tables.validate", show=False),
        Binding("V", "verify", "Verify rows", id="tables.verify", show=False),
        Binding("R", "repair", "Repair rows…", id="tables.repair", show=False),
        Binding("r", "refresh", "Refresh", id="tables.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._infos: dict[str, object] = {}
        self._listed = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("tables")
        with Horizontal(id="tables-screen"):
            with Vertical(id="tables-left", classes="side-list"):
                yield FilterBar("/ filter tables", id="list-filter")
                yield ListTable((ListColumn("table", "Table"), ListColumn("rows", "Rows≈")), id="source-tables", markable=True)
            with Vertical(id="tables-right"):
                yield Static("", id="table-title", classes="table-title", markup=False)
                yield DataTable(id="columns", cursor_type="row", zebra_stripes=True)
                yield Static("", id="preflight", classes="note")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#columns", DataTable).add_columns("Column", "MySQL type", "Null", "Key", "Cursor", "Warehouse type")
        self.query_one("#source-tables", ListTable).focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        ws = self.app.workspace
        self.load("tables", lambda: read_source_tables(ws))

    def loaded(self, what: str, data: Any) -> None:
        if what == "tables":
            self._listed = True
            self._infos = {i.ref.full_name: i for i in data}
            rows = []
            for info in data:
                name = Text(info.ref.name)
                if info.is_view:
                    name.append("  (view)", style="italic magenta")
                rows.append(ListRow(info.ref.full_name, (name, count(info.estimated_rows)),
                                    sort_values=(info.ref.name.lower(), info.estimated_rows), search_text=info.ref.full_name, group=info.ref.schema))
            table = self.query_one("#source-tables", ListTable)
            table.set_rows(rows, select=self.app.selected_table)
            if not rows:
                where = self.app.settings.str("DB_SCHEMAS") or "any schema this user may read"
                self.query_one("#table-title", Static).update(f"no tables in {where}")
        elif what.startswith("detail:"):
            self._show_detail(what[7:], data)
        elif what.startswith("validate:"):
            from s3rb_tui.tui.screens.dialogs import InfoDialog

            self.app.push_screen(InfoDialog("Validate counts", data))

    def _current(self) -> str | None:
        return self.query_one("#source-tables", ListTable).selected_key

    @on(ListTable.Selected, "#source-tables")
    def _selected(self, event: ListTable.Selected) -> None:
        if event.key:
            self.share_selection(event.key)
            self._request_detail(event.key)
        elif self._listed:
            table = event.table
            group = table.selected_group
            members = [k for k in table.shown_keys if k.startswith(f"{group}.")] if group else []
            self.query_one("#table-title", Static).update(
                f"schema {group}: {len(members)} table(s) shown — space marks them all" if group else
                ("no tables match the filter" if self._infos else ""))

    def _request_detail(self, name: str) -> None:
        ws, dialect = self.app.workspace, warehouse_dialect(self.app.settings)
        self.query_one("#table-title", Static).update(f"{name}: reading columns…")
        self.load(f"detail:{name}", lambda: read_table_detail(ws, name, dialect), group="detail")

    def _show_detail(self, name: str, d: dict[str, Any]) -> None:
        if name != self._current():
            return
        schema = d["schema"]
        mode = "incremental" if schema.incremental else "full snapshot every run"
        title = f"{name}{' (view)' if schema.is_view else ''} — {mode}; cursor {schema.cursor_column or MISSING}; key {', '.join(schema.primary_key) or MISSING}; warehouse {d['dialect']}"
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
        for line in d.get("cursor_notes", ()):
            text.append(f"\n⚠ {line}", style="yellow")
        self.query_one("#preflight", Static).update(text)

    # --- marks and jobs -------------------------------------------------------------------
    def action_mark(self) -> None:
        table = self.query_one("#source-tables", ListTable)
        table.toggle_mark()
        marked = table.marked_keys()
        self.notify(f"{len(marked)} table(s) marked" + (": b, s, l and e act on them" if marked else ""), timeout=3)

    def _targets(self) -> list[str]:
        """The marked tables (in list order), else the selected one."""
        table = self.query_one("#source-tables", ListTable)
        marked = table.marked_keys()
        if marked:
            return marked
        name = self._current()
        return [name] if name else []

    def _start(self, start) -> None:
        names = self._targets()
        if not names:
            self.notify("select or mark a table first", severity="warning")
            return
        if start(names) is not None:
            table = self.query_one("#source-tables", ListTable)
            if table.marked:  # a selection is used once: the next key acts on what is selected
                table.marked.clear()
                table.set_rows(table.all_rows)
            self.app.action_show("jobs")

    def action_backup(self) -> None:
        self._start(lambda names: self.app.run_backup(names))

    def action_sync(self) -> None:
        self._start(lambda names: self.app.run_sync(names))

    def action_load_only(self) -> None:
        self._start(lambda names: self.app.run_sync(names, load_only=True))

    def action_dry_run(self) -> None:
        self._start(lambda names: self.app.run_backup(names, dry_run=True))

    def action_verify(self) -> None:
        """Row-level verify of the marked (or selected) tables as a job; the keys by kind in its log."""
        self._start(lambda names: self.app.run_verify(names))

    def action_repair(self) -> None:
        """Plan (a job), guarded dialog, repair job and a verify again (screens/repair_dialog.py)."""
        from s3rb_tui.tui.screens.repair_dialog import start_repair

        name = self._current()
        if not name:
            self.notify("select a table first", severity="warning")
            return
        if start_repair(self.app, name) is not None:
            self.app.action_show("jobs")

    def action_validate_counts(self) -> None:
        from s3rb_tui.tui.screens.watermarks import describe_validation

        name = self._current()
        if not name:
            return
        ws = self.app.workspace

        def validate() -> str:
            from s3rb_tui.engine.ops.counts import validate_table

            return describe_validation(validate_table(ws, ws.table_ref(name)))

        self.notify(f"validating counts of {name}…")
        self.load(f"validate:{name}", validate)
