"""Files: the store's tree per table (table → year → month → day → hour → files), loaded lazily,
with sizes, ages, Parquet row counts, loaded/not-loaded marks and totals per node; guarded clean
from any node."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Header, Static, Tree

from s3rb_tui.tui.files_model import FileEntry, FileNode, list_tables_in_store, read_row_counts, read_table_tree
from s3rb_tui.tui.format import age_between, human_bytes
from s3rb_tui.tui.screens.base import ConsoleScreen
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar


def node_label(node: FileNode) -> Text:
    t = Text(node.name, style="bold" if node.level == "table" else "")
    t.append(f"  {node.count:,} files  {human_bytes(node.bytes)}", style="dim")
    if node.unloaded:
        t.append(f"  {node.unloaded} not loaded", style="yellow")
    if node.unknown_load_state:
        t.append("  load state unknown", style="dim italic")
    return t


def file_label(entry: FileEntry, now, stable: bool) -> Text:
    t = Text(entry.key.rsplit("/", 1)[-1])
    t.append(f"  {human_bytes(entry.size)}", style="dim")
    t.append("  " + ("… rows" if entry.rows is None else f"{entry.rows:,} rows"), style="cyan")
    t.append(f"  {age_between(entry.last_modified, now)} old", style="dim")
    if entry.loaded is True:
        t.append("  ✓ loaded", style="green")
    elif entry.loaded is False:
        t.append("  ✗ not loaded", style="yellow")
    return t


class FilesScreen(ConsoleScreen):
    HELP = (
        "The object store's files for each table, by the manual's layout: table → year → month → "
        "day → hour → files. Folders show file counts, bytes and how many files are not yet loaded "
        "into the warehouse; files show size, rows (from the Parquet footer), age and a loaded mark.\n\n"
        "c plans a clean of the selected node: the plan (files, bytes, loaded/not loaded) comes "
        "first, the dialog starts on Cancel, and above 100 files or with any file not yet loaded you "
        "type the table name to confirm. Exactly the planned files are deleted."
    )
    BINDINGS = [
        Binding("c", "clean", "Clean…", id="files.clean"),
        Binding("r", "refresh", "Refresh", id="files.refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("files")
        with Vertical(id="files"):
            yield Static("", id="files-where", classes="note", markup=False)
            yield Tree("store", id="file-tree")
        yield KeyFooter()

    def on_mount(self) -> None:
        tree = self.query_one("#file-tree", Tree)
        tree.show_root = False
        tree.focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        ws = self.app.workspace
        self.query_one("#files-where", Static).update(f"{ws.store.url}  ·  data under {ws.incremental_path}")
        self.load("tables", lambda: list_tables_in_store(ws))

    def loaded(self, what: str, data: Any) -> None:
        tree = self.query_one("#file-tree", Tree)
        if what == "tables":
            tree.clear()
            for name in data:
                tree.root.add(Text(name, style="bold"), data={"table": name}, allow_expand=True)
            if not data:
                tree.root.add_leaf("no tables with files yet")
            want = self.app.selected_table
            for child in tree.root.children:
                if child.data and child.data.get("table") == want:
                    tree.move_cursor(child)
                    child.expand()
                    break
        elif what.startswith("tree:"):
            table = what[5:]
            node = self._table_node(table)
            if node is None:
                return
            root: FileNode = data
            node.data = {"table": table, "node": root}
            node.set_label(node_label(root))
            node.remove_children()
            self._add_children(node, root)
            if not root.count:
                node.add_leaf(Text("no data files", style="dim"))
        elif what.startswith("rows:"):
            counts: dict[str, int | None] = data
            self._apply_rows(self.query_one("#file-tree", Tree).root, counts)

    def _table_node(self, table: str):
        for child in self.query_one("#file-tree", Tree).root.children:
            if child.data and child.data.get("table") == table:
                return child
        return None

    def _add_children(self, tree_node, node: FileNode) -> None:
        table = tree_node.data["table"]
        for name in sorted(node.children):
            child = node.children[name]
            tree_node.add(node_label(child), data={"table": table, "node": child}, allow_expand=True)
        for entry in sorted(node.files, key=lambda e: e.key):
            tree_node.add_leaf(file_label(entry, self.app.now(), self.app.stable), data={"table": table, "entry": entry})

    def _apply_rows(self, tree_node, counts: dict[str, int | None]) -> None:
        for child in tree_node.children:
            entry = (child.data or {}).get("entry")
            if entry is not None and entry.key in counts:
                entry.rows = counts[entry.key]
                child.set_label(file_label(entry, self.app.now(), self.app.stable))
            elif child.children:
                self._apply_rows(child, counts)

    @on(Tree.NodeExpanded, "#file-tree")
    def _expanded(self, event: Tree.NodeExpanded) -> None:
        data = event.node.data or {}
        ws = self.app.workspace
        if "table" in data and "node" not in data and "entry" not in data:
            table = data["table"]
            self.app.selected_table = table
            event.node.add_leaf(Text("listing…", style="dim"))
            self.load(f"tree:{table}", lambda: read_table_tree(ws, table))
            return
        node: FileNode | None = data.get("node")
        if node is None or node.level == "table" or event.node.children:
            return
        self._add_children(event.node, node)
        if node.files:
            keys = [e.key for e in node.files if e.rows is None]
            self.load(f"rows:{node.prefix}", lambda: read_row_counts(ws, keys))

    def _selected_scope(self) -> tuple[str, FileNode | None, FileEntry | None] | None:
        node = self.query_one("#file-tree", Tree).cursor_node
        data = (node.data if node else None) or {}
        if "table" not in data:
            return None
        return data["table"], data.get("node"), data.get("entry")

    def action_clean(self) -> None:
        from s3rb_tui.tui.screens.clean_dialog import CleanDialog

        scope = self._selected_scope()
        if scope is None:
            self.notify("select a table, folder or file first", severity="warning")
            return
        table, node, entry = scope
        if entry is not None:
            prefix, label = entry.key, entry.key.rsplit("/", 1)[-1]
        elif node is not None:
            prefix, label = node.prefix, node.prefix
        else:
            ref = self.app.workspace.table_ref(table)
            from s3rb_tui.engine.layout import table_prefix

            prefix = table_prefix(self.app.workspace.incremental_path, ref)
            label = prefix

        def done(result: Any) -> None:
            if result:
                self._reload_table(table)

        self.app.push_screen(CleanDialog(table, prefix, label), done)

    def _reload_table(self, table: str) -> None:
        ws = self.app.workspace
        self.load(f"tree:{table}", lambda: read_table_tree(ws, table))
