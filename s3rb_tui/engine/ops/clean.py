"""Guarded cleanup of data files: plan first, then delete exactly the planned keys.

A plan only ever holds ``.parquet`` files under ONE table's own prefix (``<incremental>/<schema.table>/``,
so ``a.b`` never reaches ``a.bc``), or — for the v1.2 retention command — under an explicit,
non-root prefix. Files not yet loaded into the warehouse (not in its load ledger) are kept unless
the caller asks otherwise. Execution deletes the plan's keys in batches of at most 1000, reports
progress and every per-key error, and never lists the store again.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from s3rb_tui.engine.core.errors import JobError, UsageError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import WATERMARK_PREFIX, normalize_prefix, parse_data_key, table_prefix
from s3rb_tui.engine.stores.base import DeleteError, ObjectInfo, ObjectStore
from s3rb_tui.engine.core.table_names import TableRef

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace

DELETE_BATCH = 1000
DATA_SUFFIX = ".parquet"


# --- inputs -----------------------------------------------------------------------------------
def validate_pattern(pattern: str | None) -> str | None:
    """A glob for file names (``batch_*``, ``*_batch_000[1-5].parquet``) or for paths under the
    table prefix when it holds a ``/`` (``year=2024/month=01/*``). Raises UsageError."""
    if pattern is None:
        return None
    hint = "use a glob such as 'batch_*' or '*_batch_000[1-5].parquet'"
    if not pattern.strip():
        raise UsageError("--pattern is empty", hint)
    if len(pattern) > 200 or any(ord(c) < 32 for c in pattern):
        raise UsageError("--pattern is too long or holds control characters", hint)
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise UsageError(f"--pattern {pattern!r} may not start with '/' or contain '..'", "patterns are relative to the table's own prefix")
    depth = 0
    for c in pattern:
        if c == "[":
            depth += 1
        elif c == "]" and depth:
            depth -= 1
    if depth:
        raise UsageError(f"--pattern {pattern!r} has an unclosed '['", hint)
    return pattern


def matches(pattern: str, relative_key: str) -> bool:
    """Paths (pattern with '/') match the key below the table prefix; otherwise the file name,
    also after any leading part of it: ``batch_*`` matches ``2024-01-01_00-00-00_batch_0001.parquet``."""
    if "/" in pattern:
        return fnmatch.fnmatchcase(relative_key, pattern)
    name = relative_key.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, "*" + pattern)


def validate_prefix(prefix: str) -> str:
    """A retention prefix: relative, not the bucket root, not the watermark area. Raises UsageError."""
    raw = prefix or ""
    norm = normalize_prefix(raw.strip())
    if not norm or norm.strip("/") == "" or raw.strip() in ("*", "."):
        raise UsageError(f"refusing to clean prefix {raw!r}: it is the whole bucket", "name the data prefix, e.g. --prefix incremental/")
    if ".." in norm.split("/") or "*" in norm or "?" in norm:
        raise UsageError(f"invalid prefix {raw!r}", "give a plain prefix such as incremental/ (no '..' or wildcards)")
    if norm.startswith(WATERMARK_PREFIX) or WATERMARK_PREFIX.startswith(norm):
        raise UsageError(f"refusing to clean prefix {raw!r}: it holds the watermark documents", "name the data prefix, e.g. --prefix incremental/")
    return norm


# --- plan ------------------------------------------------------------------------------------
@dataclass
class CleanPlan:
    prefix: str
    table: str | None  # schema.table, or None for a retention plan over a prefix
    files: list[ObjectInfo] = field(default_factory=list)  # exactly what execution deletes
    bytes: int = 0
    loaded: int = 0  # planned files that are in the load ledger
    unloaded: int = 0  # planned files not yet loaded (only with include_unloaded)
    skipped_unloaded: int = 0  # matching files kept because they are not loaded yet
    skipped_unloaded_bytes: int = 0
    not_matching: int = 0  # .parquet files under the prefix the filters did not select
    status_known: bool = True  # False: no warehouse in use, loaded/unloaded does not apply
    criteria: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]

    @property
    def empty(self) -> bool:
        return not self.files

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "prefix": self.prefix,
            "files": len(self.files),
            "bytes": self.bytes,
            "loaded": self.loaded,
            "unloaded": self.unloaded,
            "skipped_unloaded": self.skipped_unloaded,
            "skipped_unloaded_bytes": self.skipped_unloaded_bytes,
            "not_matching": self.not_matching,
            "loaded_status_known": self.status_known,
            "criteria": self.criteria,
            "keys": self.keys,
        }


def _utc(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)


def _select(
    plan: CleanPlan,
    objects: Iterable[ObjectInfo],
    *,
    cutoff: dt.datetime | None,
    pattern: str | None,
    include_unloaded: bool,
    loaded_for: Callable[[str | None], set[str] | None],
) -> CleanPlan:
    for info in objects:
        if not info.key.startswith(plan.prefix) or not info.key.endswith(DATA_SUFFIX):
            continue
        relative = info.key[len(plan.prefix):]
        if (cutoff is not None and info.last_modified >= cutoff) or (pattern and not matches(pattern, relative)):
            plan.not_matching += 1
            continue
        parsed = parse_data_key(info.key)
        loaded_keys = loaded_for(plan.table or (parsed.table if parsed else None))
        if loaded_keys is None:
            plan.status_known = False
        elif info.key in loaded_keys:
            plan.loaded += 1
        elif include_unloaded:
            plan.unloaded += 1
        else:
            plan.skipped_unloaded += 1
            plan.skipped_unloaded_bytes += info.size
            continue
        plan.files.append(info)
        plan.bytes += info.size
    return plan


def plan_clean(
    store: ObjectStore,
    incremental_path: str,
    table: TableRef,
    *,
    older_than: dt.timedelta | None = None,
    pattern: str | None = None,
    include_unloaded: bool = False,
    loaded_keys: set[str] | None,
    now: dt.datetime | None = None,
) -> CleanPlan:
    """What ``s3clean clean`` would delete for ``table``. ``loaded_keys`` is the ledger's keys for the
    table, or None when no warehouse is in use (then loaded/unloaded does not apply)."""
    prefix = table_prefix(incremental_path, table)
    if not prefix.endswith("/") or prefix.strip("/") == "" or not prefix.rstrip("/").endswith(table.full_name):
        raise UsageError(f"refusing to clean prefix {prefix!r}", "check S3_INCREMENTAL_PATH")
    pattern = validate_pattern(pattern)
    cutoff = _utc(now) - older_than if older_than is not None else None
    plan = CleanPlan(prefix=prefix, table=table.full_name, criteria={
        "older_than_seconds": int(older_than.total_seconds()) if older_than else None,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "pattern": pattern,
        "include_unloaded": include_unloaded,
    })
    return _select(plan, store.list(prefix), cutoff=cutoff, pattern=pattern, include_unloaded=include_unloaded,
                   loaded_for=lambda _table: loaded_keys)


def plan_retention(
    store: ObjectStore,
    prefix: str,
    days: int,
    *,
    loaded_for: Callable[[str], set[str] | None] | None = None,
    now: dt.datetime | None = None,
) -> CleanPlan:
    """The v1.2 ``clean`` command: ``.parquet`` files under ``prefix`` last modified more than ``days``
    days ago. Files of a table whose loads are known are kept until loaded."""
    prefix = validate_prefix(prefix)
    if days < 0:
        raise UsageError(f"--days {days} is negative", "give the number of days to keep, e.g. --days 30")
    cutoff = _utc(now) - dt.timedelta(days=days)
    plan = CleanPlan(prefix=prefix, table=None, criteria={"days": days, "cutoff": cutoff.isoformat()})
    cache: dict[str | None, set[str] | None] = {}

    def loaded(table: str | None) -> set[str] | None:
        if table is None or loaded_for is None:
            return None
        if table not in cache:
            cache[table] = loaded_for(table)
        return cache[table]

    return _select(plan, store.list(prefix), cutoff=cutoff, pattern=None, include_unloaded=False, loaded_for=loaded)


# --- execution -------------------------------------------------------------------------------
@dataclass
class CleanResult:
    table: str | None
    prefix: str
    planned: int
    deleted: int = 0
    bytes_freed: int = 0
    errors: list[DeleteError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.deleted == self.planned

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "prefix": self.prefix,
            "planned": self.planned,
            "deleted": self.deleted,
            "bytes_freed": self.bytes_freed,
            "errors": [{"key": e.key, "code": e.code, "message": e.message} for e in self.errors],
        }


def execute_clean(store: ObjectStore, plan: CleanPlan, ctx: JobContext) -> CleanResult:
    """Delete exactly ``plan.files`` in batches of at most 1000 keys; report every per-key error."""
    label = plan.table or plan.prefix
    result = CleanResult(table=plan.table, prefix=plan.prefix, planned=len(plan.files))
    sizes = {f.key: f.size for f in plan.files}
    for start in range(0, len(plan.files), DELETE_BATCH):
        ctx.check_cancelled()
        chunk = [f.key for f in plan.files[start:start + DELETE_BATCH]]
        try:
            errors = store.delete_many(chunk)
        except Exception as e:  # the whole request failed: every key of the chunk is an error
            errors = [DeleteError(key=k, code=type(e).__name__, message=str(e)) for k in chunk]
        failed = {e.key for e in errors}
        for key in chunk:
            if key not in failed:
                result.deleted += 1
                result.bytes_freed += sizes[key]
        result.errors.extend(errors)
        for e in errors:
            ctx.log("could not delete file", level="error", table=plan.table, key=e.key, code=e.code, error=e.message)
        ctx.progress(label, rows=result.deleted, files=result.deleted, total=result.planned, phase="clean",
                     bytes=result.bytes_freed, errors=len(result.errors))
    ctx.log("clean finished", level="info" if result.ok else "error", table=plan.table, prefix=plan.prefix,
            deleted=result.deleted, bytes_freed=result.bytes_freed, errors=len(result.errors))
    return result


# --- inventory (s3clean list) -------------------------------------------------------------------
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


# --- loaded status ----------------------------------------------------------------------------------
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
        self._warehouse = None
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
            try:
                from s3rb_tui.engine.ops.load import loaded_keys  # the load job's own reading of the ledger
            except ImportError:
                loaded_keys = None
            if loaded_keys is not None:
                return set(loaded_keys(self.ws, ref))
            from s3rb_tui.engine.warehouses.base import Target

            if self._warehouse is None:
                self._warehouse = self.ws.open_warehouse(reading=True)
            if self._warehouse.table_columns(self._warehouse.ledger) is None:
                return set()  # nothing was ever loaded
            target = Target(self._warehouse.schema, self.ws.table_config(ref).target_table or ref.name)
            return {key for key, _rows, _run in self._warehouse.ledger_entries(target)}
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
