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
from s3rb_tui.display import age_between, size
from s3rb_tui.tui.screens.list_screen import ListScreen
from s3rb_tui.tui.widgets.filter_bar import FilterBar
from s3rb_tui.tui.widgets.key_footer import KeyFooter
from s3rb_tui.tui.widgets.nav import NavBar


def node_label(node: FileNode) -> Text:
    t = Text(node.name, style="bold" if node.level == "table" else "")
    t.append(f"  {node.count:,} files  {size(node.bytes)}", style="dim")
    if node.unloaded:
        t.append(f"  {node.unloaded} not loaded", style="yellow")
    if node.unknown_load_state:
        t.append("  load state unknown", style="dim italic")
    return t


def file_label(entry: FileEntry, now, stable: bool) -> Text:
    t = Text(entry.key.rsplit("/", 1)[-1])
    t.append(f"  {size(entry.size)}", style="dim")
    t.append("  " + ("… rows" if entry.rows is None else f"{entry.rows:,} rows"), style="cyan")
    t.append(f"  {age_between(entry.last_modified, now)} old", style="dim")
    if entry.repair:
        t.append("  repair batch", style="magenta")
    if entry.loaded is True:
        t.append("  ✓ loaded", style="green")
    elif entry.loaded is False:
        t.append("  ✗ not loaded", style="yellow")
    return t


class FilesScreen(ListScreen):
    LIST_ID = "file-tree"
    SORTABLE = False  # a tree: no columns to sort by
    HELP = (
        "The object store's files for each table, by the manual's layout: table → year → month → "
        "day → hour → files. Folders show file counts, bytes and how many files are not yet loaded "
        "into the warehouse; files show size, rows (from the Parquet footer), age and a loaded mark. "
        "/ filters the tables by name.\n\n"
        "c plans a clean of the selected node, optionally only files older than an age (like "
        "--older-than): the plan (files, bytes, loaded/not loaded) comes first, the dialog starts on "
        "Cancel, and above 100 files or with any file not yet loaded you type the table name to "
        "confirm. Exactly the planned files are deleted; the tree stays open where it was."
    )
    BINDINGS = [
        Binding("c", "clean", "Clean…", id="files.clean"),
        Binding("r", "refresh", "Refresh", id="files.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._tables: list[str] = []
        #: each listed table's tree, kept so a filter or a reload does not lose what was read
        self._trees: dict[str, FileNode] = {}
        #: what the operator opened (table names and folder prefixes): reopened after a reload
        self._expanded: set[str] = set()
        #: after a reload, the cursor goes back to this prefix (or its nearest folder still there)
        self._cursor_prefix: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("files")
        with Vertical(id="files"):
            yield Static("", id="files-where", classes="note", markup=False)
            yield FilterBar("/ filter tables", id="list-filter")
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
        self._trees.clear()
        self.load("tables", lambda: list_tables_in_store(ws))

    def apply_filter(self, text: str) -> None:
        self._rebuild(text)

    def _rebuild(self, text: str | None = None) -> None:
        text = (self.filter_bar().value if text is None else text).strip().lower()
        tree = self.query_one("#file-tree", Tree)
        tree.clear()
        shown = [name for name in self._tables if all(w in name.lower() for w in text.split())]
        for name in shown:
            node = tree.root.add(Text(name, style="bold"), data={"table": name}, allow_expand=True)
            if name in self._trees:
                self._fill_table(node, name, self._trees[name])
        if not self._tables:
            tree.root.add_leaf("no tables with files yet")
        elif not shown:
            tree.root.add_leaf("no tables match the filter")
        for child in tree.root.children:
            if child.data and child.data.get("table") in self._expanded:
                child.expand()

    def loaded(self, what: str, data: Any) -> None:
        tree = self.query_one("#file-tree", Tree)
        if what == "tables":
            self._tables = list(data)
            want = self.app.selected_table
            if want in self._tables:
                self._expanded.add(want)
            self._rebuild()
            for child in tree.root.children:
                if child.data and child.data.get("table") == want:
                    self._move_cursor(child)
                    break
        elif what.startswith("tree:"):
            table = what[5:]
            self._trees[table] = data
            node = self._table_node(table)
            if node is None:
                return
            self._fill_table(node, table, data)
            self._restore_cursor()
        elif what.startswith("rows:"):
            counts: dict[str, tuple[int | None, bool]] = data
            self._apply_rows(self.query_one("#file-tree", Tree).root, counts)

    def _fill_table(self, node, table: str, root: FileNode) -> None:
        node.data = {"table": table, "node": root}
        node.set_label(node_label(root))
        node.remove_children()
        self._add_children(node, root)
        if not root.count:
            node.add_leaf(Text("no data files", style="dim"))

    def _table_node(self, table: str):
        for child in self.query_one("#file-tree", Tree).root.children:
            if child.data and child.data.get("table") == table:
                return child
        return None

    def _add_children(self, tree_node, node: FileNode) -> None:
        """Add ``node``'s folders and files under ``tree_node``; folders the operator had open are
        filled and opened at once (a reload or a filter gives back the same open tree)."""
        table = tree_node.data["table"]
        for name in sorted(node.children):
            child = node.children[name]
            added = tree_node.add(node_label(child), data={"table": table, "node": child}, allow_expand=True)
            if child.prefix in self._expanded:
                self._add_children(added, child)
                added.expand()
        for entry in sorted(node.files, key=lambda e: e.key):
            tree_node.add_leaf(file_label(entry, self.app.now(), self.app.stable), data={"table": table, "entry": entry})
        keys = [e.key for e in node.files if e.rows is None]
        if keys:
            ws = self.app.workspace
            self.load(f"rows:{node.prefix}", lambda: read_row_counts(ws, keys))

    def _apply_rows(self, tree_node, counts: dict[str, tuple[int | None, bool]]) -> None:
        for child in tree_node.children:
            entry = (child.data or {}).get("entry")
            if entry is not None and entry.key in counts:
                entry.rows, entry.repair = counts[entry.key]
                child.set_label(file_label(entry, self.app.now(), self.app.stable))
            elif child.children:
                self._apply_rows(child, counts)

    def _move_cursor(self, node) -> None:
        tree = self.query_one("#file-tree", Tree)
        tree.last_line  # nodes just added get their line numbers when the tree's lines are rebuilt
        tree.move_cursor(node)

    def _restore_cursor(self) -> None:
        """After a reload: the node the cursor was on, else the nearest folder above it still there."""
        want = self._cursor_prefix
        if not want:
            return
        best, best_len = None, -1

        def walk(n) -> None:
            nonlocal best, best_len
            for child in n.children:
                d = child.data or {}
                prefix = d["entry"].key if "entry" in d else d["node"].prefix if "node" in d else None
                if prefix and want.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = child, len(prefix)
                walk(child)

        walk(self.query_one("#file-tree", Tree).root)
        self._cursor_prefix = None
        if best is not None:
            self._move_cursor(best)

    @on(Tree.NodeCollapsed, "#file-tree")
    def _collapsed(self, event: Tree.NodeCollapsed) -> None:
        data = event.node.data or {}
        node: FileNode | None = data.get("node")
        self._expanded.discard(node.prefix if node is not None and node.level != "table" else data.get("table", ""))

    @on(Tree.NodeExpanded, "#file-tree")
    def _expanded_node(self, event: Tree.NodeExpanded) -> None:
        data = event.node.data or {}
        ws = self.app.workspace
        if "table" in data and data.get("node") is None and "entry" not in data:
            table = data["table"]
            self.share_selection(table)
            self._expanded.add(table)
            if table in self._trees:
                self._fill_table(event.node, table, self._trees[table])
                return
            event.node.add_leaf(Text("listing…", style="dim"))
            self.load(f"tree:{table}", lambda: read_table_tree(ws, table))
            return
        node: FileNode | None = data.get("node")
        if node is None:
            return
        self._expanded.add(node.prefix if node.level != "table" else data["table"])
        if node.level == "table" or event.node.children:
            return
        self._add_children(event.node, node)

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
            from s3rb_tui.engine.stores.layout import table_prefix

            prefix = table_prefix(self.app.workspace.incremental_path, ref)
            label = prefix

        def done(result: Any) -> None:
            if result:
                self._cursor_prefix = prefix
                self._reload_table(table)

        self.app.push_screen(CleanDialog(table, prefix, label), done)

    def _reload_table(self, table: str) -> None:
        ws = self.app.workspace
        self.load(f"tree:{table}", lambda: read_table_tree(ws, table))
