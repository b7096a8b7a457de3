"""The store's files for the Files screen: table → year → month → day → hour → files, with totals.

Built from one listing of a table's prefix (in a thread worker); Parquet row counts come from the
files' footers and are read only for the hour a user opens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from s3rb_tui.engine.stores.layout import parse_data_key, table_prefix
from s3rb_tui.engine.core.table_names import TableRef

LEVELS = ("table", "year", "month", "day", "hour", "file")


@dataclass
class FileEntry:
    key: str
    size: int
    last_modified: dt.datetime
    loaded: bool | None = None  # None: the warehouse ledger could not be read
    rows: int | None = None  # from the Parquet footer, once read
    repair: bool = False  # a repair batch (engine/ops/repair.py: its footer says so), once read


@dataclass
class FileNode:
    """A folder (or a table) in the tree; totals cover everything below it."""

    name: str
    level: str
    prefix: str
    children: dict[str, "FileNode"] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)
    count: int = 0
    bytes: int = 0
    unloaded: int = 0
    unknown_load_state: int = 0

    def add(self, entry: FileEntry) -> None:
        self.count += 1
        self.bytes += entry.size
        if entry.loaded is False:
            self.unloaded += 1
        elif entry.loaded is None:
            self.unknown_load_state += 1

    def all_files(self) -> list[FileEntry]:
        out = list(self.files)
        for child in self.children.values():
            out.extend(child.all_files())
        return out


def list_tables_in_store(ws) -> list[str]:
    """Table names that have a watermark, an s3rb.toml entry, or files under the data prefix."""
    from s3rb_tui.tui.read_models import configured_tables

    names = set(configured_tables(ws))
    seen_prefixes: set[str] = set()
    for info in ws.store.list(ws.incremental_path):
        parsed = parse_data_key(info.key)
        if parsed and parsed.table not in seen_prefixes:
            seen_prefixes.add(parsed.table)
    return sorted(names | seen_prefixes)


def loaded_keys_or_none(ws, ref: TableRef) -> set[str] | None:
    """Keys in the warehouse's load ledger; None when no warehouse is in use or it cannot be read."""
    from s3rb_tui.engine.state.ledger import loaded_file_keys

    try:
        return loaded_file_keys(ws, ref)
    except Exception:
        return None


def read_table_tree(ws, table: str) -> FileNode:
    ref = ws.table_ref(table)
    prefix = table_prefix(ws.incremental_path, ref)
    loaded = loaded_keys_or_none(ws, ref)
    root = FileNode(table, "table", prefix)
    for info in ws.store.list(prefix):
        parsed = parse_data_key(info.key)
        if parsed is None or parsed.table != ref.full_name:
            continue
        entry = FileEntry(info.key, info.size, info.last_modified, None if loaded is None else info.key in loaded)
        parts = info.key[len(prefix):].split("/")[:4]  # year=, month=, day=, hour=
        node = root
        node.add(entry)
        for level, part in zip(LEVELS[1:5], parts):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = FileNode(part, level, node.prefix + part + "/")
            child.add(entry)
            node = child
        node.files.append(entry)
    return root


def read_row_counts(ws, keys: list[str]) -> dict[str, tuple[int | None, bool]]:
    """{key: (rows, is a repair batch)} from each file's Parquet footer ((None, False): unreadable)."""
    import pyarrow.parquet as pq

    from s3rb_tui.engine.warehouses.files import REPAIR_KEY

    out: dict[str, tuple[int | None, bool]] = {}
    for key in keys:
        try:
            with ws.store.open_input(key) as f:
                meta = pq.ParquetFile(f).metadata
                out[key] = (meta.num_rows, REPAIR_KEY in (meta.metadata or {}))
        except Exception:
            out[key] = (None, False)
    return out
