"""The read side of what is committed and what is loaded: one home for both.

- **Committed files** (``committed_files``): the table's data files at or before the watermark's
  ``committed_through`` position, oldest first; a file past it is one an interrupted run wrote and
  never committed, which no reader counts. With a manual_cli watermark, only the files written at or
  after its timestamp (``honour_manual``: what a ``--redshift-only`` load picks up).
- **The load ledger** (``read_ledger``, ``ledger_keys``, ``loaded_keys``, ``LoadedKeys``): one
  ``LedgerEntry`` (key, rows, run id) per file loaded into a warehouse table, written in the same
  transaction as the rows, and per history load (an append table's repair batch) a row adjustment
  that readers of files never see (``file_entries``). A warehouse whose ledger table does not
  exist yet has loaded nothing.
  Without a warehouse configured, ``LoadedKeys`` answers from what the watermark records.
- **Inventory** (``tables_in_store``, ``summarize``): tables with data files, and each table's files
  by day, loaded and not (``s3clean list``, ``status``).

The load writes; this module only reads (the load, counts, clean, health, rebuild, verify and
watermark changes all read through it, so a rule of what "committed" or "loaded" means lives here).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.core.timestamps import parse_timestamp
from s3rb_tui.engine.state.watermarks import Watermark
from s3rb_tui.engine.stores.base import ObjectInfo, ObjectStore
from s3rb_tui.engine.stores.layout import DATA_SUFFIX, normalize_prefix, parse_data_key, stamp_to_datetime, table_data_files, table_prefix
from s3rb_tui.engine.warehouses.base import ADJUSTMENT_SUFFIX, LedgerEntry, Target, Warehouse
from s3rb_tui.engine.warehouses.targets import target_for

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


# --- committed files ----------------------------------------------------------------------------
class CommittedFile(NamedTuple):
    key: str
    size: int


def committed_files(ws: "Workspace", ref: TableRef, wm: Watermark | None, honour_manual: bool = True) -> list[CommittedFile]:
    """The table's committed data files, oldest first; with ``honour_manual`` only those written at
    or after a manual_cli timestamp."""
    committed = wm.committed_position if wm else None
    if committed is None:
        return []
    manual = manual_moment(wm) if honour_manual else None
    found = []
    for dk, info in table_data_files(ws.store, ws.incremental_path, ref):
        if dk.position > committed:
            continue
        if manual is not None and stamp_to_datetime(dk.position.run_stamp) < manual:
            continue
        found.append((dk.position, info.key, info.size))
    return [CommittedFile(k, s) for _, k, s in sorted(found)]


def manual_moment(wm: Watermark | None) -> dt.datetime | None:
    """A manual_cli watermark's timestamp (UTC): files written before it are not loaded."""
    if wm is None or wm.backup_strategy != "manual_cli" or not wm.manual_timestamp:
        return None
    return parse_timestamp(wm.manual_timestamp).replace(tzinfo=dt.timezone.utc)


# --- the load ledger ----------------------------------------------------------------------------
def file_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The entries of files, without history loads' row adjustments (``ADJUSTMENT_SUFFIX``)."""
    return [e for e in entries if not e.key.endswith(ADJUSTMENT_SUFFIX)]


def read_ledger(wh: Warehouse, target: Target) -> list[LedgerEntry]:
    """The ledger's file entries for ``target``, oldest first (none when the ledger table does not exist)."""
    return read_ledger_counts(wh, target)[0]


def read_ledger_counts(wh: Warehouse, target: Target) -> tuple[list[LedgerEntry], int]:
    """(``read_ledger``'s file entries, the sum of the history loads' row adjustments): an append
    table holds the files' rows plus the adjustments (minus the versions repair batches replaced)."""
    if wh.table_columns(wh.ledger) is None:
        return [], 0
    entries = wh.ledger_entries(target)
    return file_entries(entries), sum(e.rows for e in entries if e.key.endswith(ADJUSTMENT_SUFFIX))


def ledger_rows(wh: Warehouse, target: Target) -> int:
    """The rows an append table's ledger says it holds: its files' rows plus the adjustments
    (what validate-counts compares the table with)."""
    entries, adjusted = read_ledger_counts(wh, target)
    return sum(e.rows for e in entries) + adjusted


def ledger_keys(wh: Warehouse, target: Target) -> set[str]:
    """Keys of the files loaded into ``target``."""
    return {entry.key for entry in read_ledger(wh, target)}


def loaded_keys(ws: "Workspace", table: TableRef) -> set[str]:
    """Keys of the table's files in the warehouse ledger, on a connection of its own."""
    with ws.open_warehouse(reading=True) as wh:
        return ledger_keys(wh, target_for(ws, table))


def warehouse_configured(settings) -> bool:
    """True when a warehouse is set up: REDSHIFT_HOST, or a DuckDB file."""
    if settings.str("WAREHOUSE_DIALECT") == "duckdb":
        return bool(settings.str("DUCKDB_PATH"))
    return bool(settings.str("REDSHIFT_HOST")) or (settings.str("WAREHOUSE_DIALECT") == "auto" and bool(settings.str("DUCKDB_PATH")))


def _from_watermark(ws: "Workspace", table: TableRef) -> set[str] | None:
    """Loaded keys as the watermark records them; None when the table has never been loaded anywhere."""
    wm = ws.watermarks.get(table)
    if wm is None or (wm.files_loaded_total == 0 and wm.redshift_status in ("never", None)):
        return None
    keys = set(wm.session_files_loaded)
    position = wm.committed_position
    if position is not None and wm.redshift_status == "success" and wm.files_loaded_total >= wm.files_written_total:
        for info in ws.store.list(table_prefix(ws.incremental_path, table)):
            parsed = parse_data_key(info.key)
            if parsed is not None and parsed.position <= position:
                keys.add(info.key)
    return keys


class LoadedKeys:
    """Which files of a table are loaded: the warehouse's load ledger when a warehouse is configured,
    else what the watermark records, else None (no warehouse in use). One connection, cached."""

    def __init__(self, ws: "Workspace"):
        self.ws = ws
        self._warehouse: Warehouse | None = None
        self._cache: dict[str, set[str] | None] = {}

    def for_table(self, table: TableRef | str) -> set[str] | None:
        ref = table if isinstance(table, TableRef) else TableRef.parse(table)
        if ref.full_name not in self._cache:
            self._cache[ref.full_name] = self._read(ref)
        return self._cache[ref.full_name]

    def _read(self, ref: TableRef) -> set[str] | None:
        if not warehouse_configured(self.ws.settings):
            return _from_watermark(self.ws, ref)
        try:
            if self._warehouse is None:
                self._warehouse = self.ws.open_warehouse(reading=True)
            return ledger_keys(self._warehouse, target_for(self.ws, ref))
        except Exception as e:
            detail = e.message if isinstance(e, JobError) else f"{type(e).__name__}: {e}"
            raise JobError(
                f"cannot read the warehouse load ledger for {ref.full_name}: {detail}",
                "fix the warehouse connection (see `status`), or pass --include-unloaded to ignore load status",
            ) from None

    def close(self) -> None:
        if self._warehouse is not None:
            try:
                self._warehouse.close()
            finally:
                self._warehouse = None

    def __enter__(self) -> "LoadedKeys":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def loaded_file_keys(ws: "Workspace", table: TableRef) -> set[str] | None:
    """Keys of ``table``'s files that are loaded into the warehouse (None: no warehouse in use)."""
    with LoadedKeys(ws) as lk:
        return lk.for_table(table)


# --- inventory (s3clean list, status) -----------------------------------------------------------
@dataclass
class TableFiles:
    table: str
    prefix: str
    files: int = 0
    bytes: int = 0
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None
    by_day: dict[str, dict[str, int]] = field(default_factory=dict)  # YYYY-MM-DD -> files, bytes
    loaded: int | None = None  # None: no warehouse in use
    unloaded: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table, "prefix": self.prefix, "files": self.files, "bytes": self.bytes,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "by_day": self.by_day, "loaded": self.loaded, "unloaded": self.unloaded,
        }


_DAY = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/")


def summarize(prefix: str, table: str, objects: Iterable[ObjectInfo], loaded_keys: set[str] | None) -> TableFiles:
    out = TableFiles(table=table, prefix=prefix)
    days: dict[str, Counter] = {}
    loaded = 0
    for info in objects:
        if not info.key.startswith(prefix) or not info.key.endswith(DATA_SUFFIX):
            continue
        out.files += 1
        out.bytes += info.size
        out.oldest = info.last_modified if out.oldest is None else min(out.oldest, info.last_modified)
        out.newest = info.last_modified if out.newest is None else max(out.newest, info.last_modified)
        m = _DAY.search(info.key[len(prefix):])
        day = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else info.last_modified.date().isoformat()
        c = days.setdefault(day, Counter())
        c["files"] += 1
        c["bytes"] += info.size
        if loaded_keys is not None and info.key in loaded_keys:
            loaded += 1
    out.by_day = {d: dict(days[d]) for d in sorted(days)}
    if loaded_keys is not None:
        out.loaded, out.unloaded = loaded, out.files - loaded
    return out


def tables_in_store(store: ObjectStore, incremental_path: str) -> list[TableRef]:
    """Every table that has data files under the incremental path (from the key layout)."""
    names = set()
    for info in store.list(normalize_prefix(incremental_path)):
        parsed = parse_data_key(info.key)
        if parsed is not None:
            names.add(parsed.table)
    return [TableRef.parse(n) for n in sorted(names)]
