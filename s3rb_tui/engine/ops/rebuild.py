"""Rebuild a warehouse table from the committed files in the store (``--run rebuild -t T``).

The one command for a warehouse copy that cannot be trusted any more — dropped outside the
pipeline while its ledger remained (the load stops and names this command), or damaged by hand.
The plan reads what a rebuild would load (committed files, rows, bytes; with a manual_cli
watermark only the files written at or after its timestamp, as every load does) and what it
replaces (the warehouse rows and ledger rows now). Applying it, under the table's lock: drop the
table (its views go with it and are recreated by the load) and delete its ledger rows in one
transaction, clear the watermark's warehouse side, then load every planned file as a normal load
does (merge, append or the newest snapshot; views; ledger rows with each batch). A rebuild killed
half way leaves a table that the next ``sync --redshift-only`` (or another rebuild) completes.

``--resync`` is for a source table that was truncated or re-created (a load stops and names it):
the committed files no longer describe it. The watermark is reset (the file history kept), a full
backup reads the whole table again, and the copy is rebuilt from the files of that read only;
every older committed file is recorded in the ledger as superseded (0 rows), so no later load
brings its rows back.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.ops.backup import backup_table
from s3rb_tui.engine.core.events import JobFinished, TableResult
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import run_stamp
from s3rb_tui.engine.ops.load import load_table, new_run_id
from s3rb_tui.engine.state.ledger import committed_files, read_ledger
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.warehouses.targets import refuse_shared_targets, target_for
from s3rb_tui.engine.warehouses.base import Target
from s3rb_tui.engine.warehouses.files import footer

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


@dataclass(frozen=True)
class RebuildPlan:
    table: TableRef
    target: Target
    files: int
    rows: int
    bytes: int
    manual_after: str | None  # a manual_cli watermark: only files written at or after it
    exists: bool
    warehouse_rows: int | None
    ledger_files: int
    resync: bool = False  # read the source table again first; older files are superseded

    def describe(self) -> dict[str, Any]:
        return {"table": self.table.full_name, "target": self.target.full_name, "files": self.files, "rows": self.rows,
                "bytes": self.bytes, "manual_after": self.manual_after, "warehouse_exists": self.exists,
                "warehouse_rows": self.warehouse_rows, "ledger_files": self.ledger_files, "resync": self.resync}


def plan_rebuild(ws: "Workspace", ref: TableRef, resync: bool = False) -> RebuildPlan:
    """What ``rebuild`` would drop and load. UsageError (exit 2) when there is nothing to build from."""
    refuse_shared_targets(ws, [ref])
    wm = ws.watermarks.get(ref)
    if not resync and (wm is None or wm.committed_position is None):
        raise UsageError(f"{ref} has no committed files in the store to rebuild from",
                         f"back it up first: s3rb-tui --run sync -t {ref}")
    keys = committed_files(ws, ref, wm) if wm is not None else []
    rows = sum(footer(ws.store, k, s).rows for k, s in keys)
    target = target_for(ws, ref)
    with ws.open_warehouse() as wh:
        exists = wh.table_columns(target) is not None
        warehouse_rows = wh.count_rows(target) if exists else None
        ledger = read_ledger(wh, target)
    manual = wm.manual_timestamp if wm is not None and wm.backup_strategy == "manual_cli" and not resync else None
    return RebuildPlan(ref, target, len(keys), rows, sum(s for _, s in keys), manual, exists, warehouse_rows, len(ledger), resync)


def run_rebuild(ws: "Workspace", plan: RebuildPlan, ctx: JobContext) -> TableResult:
    """Drop and reload the planned table (see the module docstring)."""
    ctx.started([plan.table.full_name], rebuild=True, resync=plan.resync)
    since = None
    if plan.resync:
        since = run_stamp(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))  # every file of the re-read is at or after it
        ws.watermarks.update(plan.table, lambda w: w.with_reset())
        ctx.log("watermark reset: the table is read again in full", level="warning", table=plan.table.full_name)
        backup = backup_table(ws, plan.table, ctx)
        if not backup.ok:
            ctx.emit(JobFinished(ctx.job_id, time.time(), "Rebuild completed", success=False))
            return backup
    result = load_table(ws, plan.table, ctx, run_id=new_run_id().replace("load-", "rebuild-"), rebuild=True, since=since)
    ctx.finished("Rebuild completed", [result], totals=False)
    return result
