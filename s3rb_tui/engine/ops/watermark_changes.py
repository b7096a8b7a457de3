"""Planned watermark changes: ``set`` (manual_cli timestamp) and ``reset``.

A change is planned first (current document, the new one, and its effect: source rows after the
timestamp, committed files written after it and how many of those a ``--redshift-only`` load
would pick up), shown, and then applied exactly: the write is a compare-and-swap against the
document the plan was made from, so a watermark that moved in between is never overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.cursors.bounds import run_bound
from s3rb_tui.engine.cursors.census import ahead_warning, take_census
from s3rb_tui.engine.core.timestamps import format_timestamp, parse_timestamp
from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.core.jobs import JobContext, run_table_change
from s3rb_tui.engine.stores.layout import stamp_to_datetime, table_data_files
from s3rb_tui.engine.state.ledger import loaded_keys
from s3rb_tui.engine.state.locks import TableLock
from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Watermark

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace

@dataclass
class WatermarkPlan:
    table: TableRef
    operation: str  # set | reset
    current: Watermark | None
    new: Watermark
    etag: str | None
    timestamp: str | None = None
    source_rows_after: int | None = None  # None: source not reachable or not asked
    files_after: int = 0
    bytes_after: int = 0
    files_to_load: int | None = None  # None: warehouse ledger not reachable
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a timestamp ahead of the source's newest cursor

    def describe(self) -> dict[str, Any]:
        return {
            "table": self.table.full_name,
            "operation": self.operation,
            "timestamp": self.timestamp,
            "current": self.current.summary() if self.current else None,
            "new": self.new.summary(),
            "source_rows_after": self.source_rows_after,
            "files_after": self.files_after,
            "bytes_after": self.bytes_after,
            "files_to_load": self.files_to_load,
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _files_after(ws: "Workspace", table: TableRef, wm: Watermark | None, moment: dt.datetime | None) -> tuple[list[str], int]:
    committed = wm.committed_position if wm else None
    keys, size = [], 0
    for parsed, info in table_data_files(ws.store, ws.incremental_path, table):
        if committed is None or parsed.position > committed:
            continue
        if moment is None or stamp_to_datetime(parsed.position.run_stamp) >= moment.replace(tzinfo=dt.timezone.utc):
            keys.append(info.key)
            size += info.size
    return keys, size


def _loaded_keys(ws: "Workspace", table: TableRef) -> set[str] | None:
    """The ledger's keys for the plan's figures; None when the warehouse cannot be read (the plan
    then says how many files a load would pick up without it)."""
    try:
        return loaded_keys(ws, table)
    except Exception:
        return None


def plan_set(ws: "Workspace", table: TableRef, timestamp: str, *, with_source: bool = True, with_warehouse: bool = True) -> WatermarkPlan:
    moment = parse_timestamp(timestamp)
    ts = format_timestamp(moment)
    current, etag = ws.watermarks.read(table)
    base = current or Watermark(table=table.full_name)
    plan = WatermarkPlan(table, "set", current, base.with_manual_timestamp(ts), etag, timestamp=ts)
    keys, size = _files_after(ws, table, current, moment)
    plan.files_after, plan.bytes_after = len(keys), size
    if with_warehouse:
        loaded = _loaded_keys(ws, table)
        if loaded is not None:
            plan.files_to_load = len([k for k in keys if k not in loaded])
    if with_source:
        try:
            with ws.open_source() as source:
                cfg = ws.table_config(table)
                schema = source.discover(table, cfg.cursor_column, cfg.key_columns)
                if schema.incremental:
                    plan.source_rows_after = source.count(schema, Position(cursor=ts, key=None, nulls_done=True), format_timestamp(source.now()))
                    ahead = _ahead(ws, source, schema, ts)
                    if ahead:
                        plan.warnings.append(ahead)
                else:
                    plan.notes.append("the table has no cursor column or primary key: it is backed up as a full snapshot, the timestamp only filters which files a --redshift-only load takes")
        except Exception as e:  # the preview still shows what the store says
            plan.notes.append(f"source not counted: {e}")
    plan.notes.append(f"the next backup extracts rows with cursor > {ts}; a --redshift-only load takes committed files written at or after it")
    return plan


def _ahead(ws: "Workspace", source: Any, schema: Any, cursor: Any) -> str | None:
    bound = run_bound(schema, source.clock(ws.settings.str("DB_DATETIME_ZONE"), transactions=False), 0)
    return ahead_warning(schema, cursor, take_census(source, schema, bound))


def ahead_of_source(ws: "Workspace", table: TableRef, timestamp: str) -> str | None:
    """The warning ``watermark set`` gives for ``timestamp`` when it is ahead of the newest cursor
    in the source and of the source's clock (every row changed until then would be skipped); None
    when it is not. For the console's watermark wizard: it opens the source (call it from a
    worker thread); a bad timestamp is a UsageError, an unreachable source its JobError."""
    ts = format_timestamp(parse_timestamp(timestamp))
    with ws.open_source() as source:
        cfg = ws.table_config(table)
        schema = source.discover(table, cfg.cursor_column, cfg.key_columns)
        return _ahead(ws, source, schema, ts) if schema.incremental else None


def plan_reset(ws: "Workspace", table: TableRef) -> WatermarkPlan:
    current, etag = ws.watermarks.read(table)
    base = current or Watermark(table=table.full_name)
    plan = WatermarkPlan(table, "reset", current, base.with_reset(), etag)
    keys, size = _files_after(ws, table, current, None)
    plan.files_after, plan.bytes_after = len(keys), size
    plan.notes.append("the next backup starts from the beginning of the table (a full backup); committed files stay in the store")
    return plan


def apply_plan(ws: "Workspace", plan: WatermarkPlan) -> Watermark:
    """Write exactly the planned document, only if the watermark is still the one planned from,
    under the table's lock: a run holding it is never disturbed (LockedError names it)."""
    with TableLock(ws.store, plan.table, purpose=f"watermark {plan.operation}"):
        ws.watermarks.write(plan.new, plan.etag)
    return plan.new


def run_plan(ws: "Workspace", plan: WatermarkPlan, ctx: JobContext) -> list[TableResult]:
    """``apply_plan`` as a job (the console's runner): started, the change logged (what it set),
    the table's result, finished."""

    def change(result: TableResult) -> None:
        new = apply_plan(ws, plan)
        result.details.update(operation=plan.operation, timestamp=plan.timestamp, files_after=plan.files_after)
        ctx.log(f"watermark {plan.operation} applied", table=plan.table.full_name, timestamp=plan.timestamp,
                backup_strategy=new.backup_strategy, files_after=plan.files_after, files_to_load=plan.files_to_load)

    return run_table_change(ctx, plan.table.full_name, f"Watermark {plan.operation} completed", change, operation=plan.operation)
