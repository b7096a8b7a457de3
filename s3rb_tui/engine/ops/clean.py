"""Guarded cleanup of data files: plan first, then delete exactly the planned keys.

A plan only ever holds ``.parquet`` files under ONE table's own prefix (``<incremental>/<schema.table>/``,
so ``a.b`` never reaches ``a.bc``), or — for the v1.2 retention command — under an explicit,
non-root prefix. Files not yet loaded into the warehouse (not in its load ledger) are kept unless
the caller asks otherwise. A table another run holds locked (a backup, load or repair) keeps its
files: the plan leaves them out and says who holds it (``locked``), before anyone is asked to
confirm. Execution deletes the plan's keys in batches of at most 1000, reports
progress and every per-key error, and never lists the store again.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from s3rb_tui.engine.core.errors import LockedError, UsageError
from s3rb_tui.engine.core.events import JobStatus, TableResult
from s3rb_tui.engine.core.jobs import JobContext, run_table_change
from s3rb_tui.engine.stores.layout import DATA_SUFFIX, WATERMARK_PREFIX, normalize_prefix, parse_data_key, table_prefix
from s3rb_tui.engine.stores.base import DeleteError, ObjectInfo, ObjectStore
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.locks import TableLock

DELETE_BATCH = 1000


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
class LockedFiles:
    """Files a plan keeps because another run holds their table's lock."""
    holder: str  # LeaseInfo.describe(): "backup on host etl-1, pid 4242, since ..."
    files: int = 0
    bytes: int = 0


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
    locked: dict[str, LockedFiles] = field(default_factory=dict)  # table -> its matching files, kept: another run holds it

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
            "locked": {t: {"holder": f.holder, "files": f.files, "bytes": f.bytes} for t, f in self.locked.items()},
            "keys": self.keys,
        }


def _utc(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)


def _lock_reader(store: ObjectStore) -> Callable[[str | None], str | None]:
    """table -> who holds its lock now (None: free, or a lease that may be taken over), one read
    of the lease per table."""
    cache: dict[str, str | None] = {}

    def holder_of(table: str | None) -> str | None:
        if table is None:
            return None
        if table not in cache:
            info = TableLock(store, TableRef.parse(table)).live_holder()
            cache[table] = info.describe() if info is not None else None
        return cache[table]

    return holder_of


def _select(
    plan: CleanPlan,
    objects: Iterable[ObjectInfo],
    *,
    cutoff: dt.datetime | None,
    pattern: str | None,
    include_unloaded: bool,
    loaded_for: Callable[[str | None], set[str] | None],
    holder_of: Callable[[str | None], str | None],
) -> CleanPlan:
    for info in objects:
        if not info.key.startswith(plan.prefix) or not info.key.endswith(DATA_SUFFIX):
            continue
        relative = info.key[len(plan.prefix):]
        if (cutoff is not None and info.last_modified >= cutoff) or (pattern and not matches(pattern, relative)):
            plan.not_matching += 1
            continue
        parsed = parse_data_key(info.key)
        table = plan.table or (parsed.table if parsed else None)
        holder = holder_of(table)
        if holder is not None and table is not None:
            kept = plan.locked.setdefault(table, LockedFiles(holder))
            kept.files += 1
            kept.bytes += info.size
            continue
        loaded_keys = loaded_for(table)
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
                   loaded_for=lambda _table: loaded_keys, holder_of=_lock_reader(store))


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

    return _select(plan, store.list(prefix), cutoff=cutoff, pattern=None, include_unloaded=False, loaded_for=loaded,
                   holder_of=_lock_reader(store))


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


def _by_table(plan: CleanPlan) -> list[tuple[str | None, list[ObjectInfo]]]:
    """The plan's files in plan order, grouped by the table they belong to (None: a key that names
    no table, which only a retention prefix can hold)."""
    groups: dict[str | None, list[ObjectInfo]] = {}
    for info in plan.files:
        parsed = parse_data_key(info.key)
        groups.setdefault(plan.table or (parsed.table if parsed else None), []).append(info)
    return list(groups.items())


def execute_clean(store: ObjectStore, plan: CleanPlan, ctx: JobContext) -> CleanResult:
    """Delete exactly ``plan.files`` in batches of at most 1000 keys; report every per-key error.

    Each table's files are deleted holding its lock (``state.locks``), renewed between batches: a
    backup, load or repair of the table running meanwhile cannot have its files removed under it
    (a file written but not yet committed, one a load is about to COPY). A table locked by another
    run keeps its files, each reported as an error naming the holder; the other tables go on."""
    label = plan.table or plan.prefix
    result = CleanResult(table=plan.table, prefix=plan.prefix, planned=len(plan.files))

    def report(errors: list[DeleteError]) -> None:
        result.errors.extend(errors)
        for error in errors:
            ctx.log("could not delete file", level="error", table=plan.table, key=error.key, code=error.code, error=error.message)
        ctx.progress(label, rows=result.deleted, files=result.deleted, total=result.planned, phase="clean",
                     bytes=result.bytes_freed, errors=len(result.errors))

    for table, files in _by_table(plan):
        ctx.check_cancelled()
        lock = TableLock(store, TableRef.parse(table), purpose=ctx.name, log=ctx.log) if table else None
        try:
            if lock is not None:
                lock.acquire()
        except LockedError as e:
            ctx.log("table locked: its files are kept", level="error", table=table, files=len(files), error=str(e))
            report([DeleteError(key=f.key, code="Locked", message=str(e)) for f in files])
            continue
        try:
            for start in range(0, len(files), DELETE_BATCH):
                ctx.check_cancelled()
                if lock is not None and start:
                    try:
                        lock.renew()
                    except LockedError as e:  # another run took the table over: the rest is its
                        report([DeleteError(key=f.key, code="Locked", message=str(e)) for f in files[start:]])
                        break
                chunk = files[start:start + DELETE_BATCH]
                try:
                    errors = store.delete_many([f.key for f in chunk])
                except Exception as e:  # the whole request failed: every key of the chunk is an error
                    errors = [DeleteError(key=f.key, code=type(e).__name__, message=str(e)) for f in chunk]
                failed = {e.key for e in errors}
                for f in chunk:
                    if f.key not in failed:
                        result.deleted += 1
                        result.bytes_freed += f.size
                report(errors)
        finally:
            if lock is not None:
                lock.release()
    ctx.log("clean finished", level="info" if result.ok else "error", table=plan.table, prefix=plan.prefix,
            deleted=result.deleted, bytes_freed=result.bytes_freed, errors=len(result.errors))
    return result


def fill_result(result: TableResult, done: CleanResult) -> TableResult:
    """A clean's figures as its table's result: files and bytes deleted (the execution in
    ``details``); failed when a planned key could not be deleted, naming the first."""
    result.files, result.bytes = done.deleted, done.bytes_freed
    result.details.update(done.to_json())
    if done.ok:
        result.status = JobStatus.SUCCESS
    else:
        first = done.errors[0] if done.errors else None
        result.status = JobStatus.FAILED
        result.error = f"deleted {done.deleted:,} of {done.planned:,} planned file(s)" + (
            f"; {len(done.errors)} could not be deleted, first {first.key}: {first.code} {first.message}" if first else "")
    return result


def run_clean(store: ObjectStore, plan: CleanPlan, ctx: JobContext) -> list[TableResult]:
    """``execute_clean`` as a job of its own (the console's runner): started, the deletions with
    their progress, one result (files and bytes freed, the execution's figures in ``details``;
    failed when a planned key could not be deleted), finished."""

    def change(result: TableResult) -> None:
        fill_result(result, execute_clean(store, plan, ctx))

    return run_table_change(ctx, plan.table or plan.prefix, "Clean completed", change, prefix=plan.prefix, planned=len(plan.files))
