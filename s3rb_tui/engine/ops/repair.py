"""``repair``: make the warehouse equal to the source for the keys ``verify`` found, under the
guards of every destructive action.

The plan is verify's full key lists: re-extract the keys missing in the warehouse or different
there, delete the keys the source no longer has. Nothing is written to the warehouse directly:

1. Under the table's lock, the source's current rows of those keys are read through the type rules
   (``schema.rows_to_batch``, as a backup reads them) and written as ordinary committed batch files
   of a new run (the manual's layout), the first one carrying the deletes in its footer
   (``warehouses/files.REPAIR_KEY``); the watermark's file history moves over them
   (compare-and-swap), its cursor position does not move.
2. The normal load takes them like any committed file: by merge, through the ledger, the deletes
   in the same transaction as the rows and the ledger row (``sql.delete_keys_statements``).

So a kill -9 at any point converges on a rerun: before the watermark commit, the files are orphans
no load takes (a backup reports them); after it, the next load (the rerun's, or any sync's) loads
them exactly once; a rerun's verify then finds nothing left to repair.

Append tables keep their history: the repair batch is loaded alone in its load transaction, staged
like a merge (``sql_views.history_statements``): the source's current version of each re-extracted
key is appended and replaces only the versions not older than it (a tie in the cursor would let
the old one win ``<table>_latest``), and the deleted keys are recorded in ``<table>_deleted`` (keys,
``deleted_at``, ``deleted_cursor``), which ``<table>_latest`` excludes until a newer version
arrives (the rule: ``sql_views``). ``<table>_deleted`` and the excluding view are created before
the batch is written, so a kill after the load cannot leave the view stale.

Guard: deleting more than ``max_delete_ratio`` of the warehouse table (default 0.01) is refused
unless ``allow_mass_delete`` — a partial read of the source looks exactly like a mass delete.
Snapshot tables (a repair batch would replace the whole snapshot) are refused with the way to fix them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import FilePosition, data_key, run_stamp, stamp_to_datetime
from s3rb_tui.engine.state.ledger import ledger_rows
from s3rb_tui.engine.state.locks import TableLock
from s3rb_tui.engine.core.type_rules import ConversionStats, TableSchema, rows_to_batch
from s3rb_tui.engine.sources.keyset import mysql_keyset
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.ops.verify import TableVerdict, VerifyOptions
from s3rb_tui.engine.warehouses.files import REPAIR_KEY
from s3rb_tui.engine.warehouses.targets import target_for
from s3rb_tui.engine.warehouses.values import NUL_TEXT_KEY, mark_nul_text

if TYPE_CHECKING:
    from typing import Callable

    from s3rb_tui.engine.core.jobs import CancelToken
    from s3rb_tui.engine.ops.verify import VerifyProgress
    from s3rb_tui.engine.wiring.workspace import Workspace

DEFAULT_MAX_DELETE_RATIO = 0.01
KEYS_PER_READ = 500
ROWS_PER_FILE = 10_000
ALL_KEYS = 10**12  # verify's key lists uncapped: repair needs every key


@dataclass
class RepairPlan:
    ref: TableRef
    verdict: TableVerdict
    reextract: list[list[Any]]
    deletes: list[list[Any]]

    @property
    def delete_ratio(self) -> float:
        return len(self.deletes) / max(1, self.verdict.warehouse_rows)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.ref.full_name, "reextract": len(self.reextract), "delete": len(self.deletes),
                "delete_ratio": round(self.delete_ratio, 6), "warehouse_rows": self.verdict.warehouse_rows,
                "not_yet_synced": self.verdict.not_yet_synced}


def plan_repair(ws: "Workspace", ref: TableRef, options: VerifyOptions | None = None,
                progress: "Callable[[VerifyProgress], None] | None" = None, cancel: "CancelToken | None" = None) -> RepairPlan:
    """``progress``/``cancel``: the verify's (the console's plan job shows its segments)."""
    from s3rb_tui.engine.ops.verify_table import verify_table

    options = dataclasses.replace(options or VerifyOptions(), limit=ALL_KEYS, keys_only=False, columns=None)
    verdict = verify_table(ws, ref, options, progress=progress, cancel=cancel)
    if verdict.mode == "replace":
        raise UsageError(f"{ref} is a snapshot table: the next sync replaces it whole", f"run `s3rb-tui --run sync -t {ref}`")
    return RepairPlan(ref, verdict, verdict.missing_in_warehouse + verdict.different, verdict.extra_in_warehouse)


def check_delete_guard(plan: RepairPlan, max_ratio: float, force: bool, allow_mass_delete: bool) -> None:
    """UsageError (exit 2, nothing changed) when the plan deletes more than ``max_ratio`` of the table
    and the operator did not pass both --force and --allow-mass-delete."""
    if plan.delete_ratio <= max_ratio or (force and allow_mass_delete):
        return
    raise UsageError(f"repair of {plan.ref} would delete {len(plan.deletes):,} of {plan.verdict.warehouse_rows:,} warehouse rows "
                     f"({plan.delete_ratio:.2%}), more than --max-delete-ratio {max_ratio:g}; nothing changed",
                     "a partial read of the source looks exactly like a mass delete: check the source, then pass "
                     "--force --allow-mass-delete to delete them anyway")


def _read_rows(ws: "Workspace", schema: TableSchema, keys: list[list[Any]]):
    """The source's current rows of ``keys``, as Arrow batches of the type rules (a backup's)."""
    from s3rb_tui.engine.sources.mysql_rows import select_columns

    keyset = mysql_keyset(schema)
    with ws.open_source() as source:
        if hasattr(source, "read_keys"):  # the demo's SQLite source reads keys its own way
            yield from source.read_keys(schema, keys, KEYS_PER_READ)
            return
        for i in range(0, len(keys), KEYS_PER_READ):
            ors, params = [], []
            for key in keys[i:i + KEYS_PER_READ]:
                ands = []
                for name, value in zip(schema.primary_key, key):
                    sql, more = keyset.rules.equal(keyset.ref(name), schema.column(name), value)
                    ands.append(sql)
                    params += more
                ors.append("(" + " AND ".join(ands) + ")")
            rows = source.query(f"SELECT {select_columns(schema, schema.column_names)} FROM {schema.ref.mysql()} "
                                 f"WHERE {' OR '.join(ors)}", params)
            if rows:
                yield rows_to_batch(schema, [list(c) for c in zip(*rows)], ConversionStats())


def _write(ws: "Workspace", key: str, batches: list[pa.RecordBatch], arrow: pa.Schema, meta: dict[str, Any]) -> None:
    nul: set[str] = set()
    for b in batches:  # the footer names text columns holding NUL, as a backup's does
        nul.update(json.loads((mark_nul_text(b).schema.metadata or {}).get(NUL_TEXT_KEY, b"[]")))
    table = pa.Table.from_batches(batches, schema=arrow) if batches else arrow.empty_table()
    batch_meta = {REPAIR_KEY: json.dumps(meta, default=str).encode()}
    if nul:
        batch_meta[NUL_TEXT_KEY] = json.dumps(sorted(nul)).encode()
    fd, path = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table.replace_schema_metadata(batch_meta), path, compression="snappy")
        ws.store.put_file(key, path)
    finally:
        os.unlink(path)


def _counted_but_gone(ws: "Workspace", ref: TableRef) -> int:
    """Rows an append table's ledger counts as loaded (with its adjustments) that the table no
    longer holds: deleted outside the pipeline. Restoring lost keys restores at most that many
    of them; rows beyond it were never loaded (the ledger does not count them yet)."""
    target = target_for(ws, ref)
    with ws.open_warehouse(reading=True) as wh:
        held = wh.count_rows(target) if wh.table_columns(target) is not None else 0
        return max(0, ledger_rows(wh, target) - held)


def write_repair_batch(ws: "Workspace", plan: RepairPlan, ctx: JobContext) -> list[str]:
    """Step 1 (module docstring): the repair batch files, committed in the watermark's history.
    ``ctx``'s cancel token is checked after every read of ``KEYS_PER_READ`` keys and before the
    commit: a cancelled repair commits nothing (its files are orphans the next backup removes)."""
    ref = plan.ref
    cfg = ws.table_config(ref)
    with TableLock(ws.store, ref, purpose="repair", log=ctx.log) as lock:
        with ws.open_source() as source:
            schema = source.discover(ref, cfg.cursor_column, cfg.key_columns)
        wm, etag = ws.watermarks.read(ref)
        if wm is None:
            raise UsageError(f"{ref} has no watermark", f"run `s3rb-tui --run sync -t {ref}` first")
        import datetime as dt

        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        if wm.committed_position is not None and start <= stamp_to_datetime(wm.committed_position.run_stamp):
            start = stamp_to_datetime(wm.committed_position.run_stamp) + dt.timedelta(seconds=1)
        arrow = schema.arrow_schema()
        pending: list[pa.RecordBatch] = []
        files: list[str] = []
        rows = 0
        counted = 0  # rows of lost keys the ledger already counts, still to place in files

        def flush(final: bool, lost: bool) -> None:
            nonlocal pending, counted
            if not pending and not (final and not files):
                return
            key = data_key(ws.incremental_path, ref, start, len(files) + 1)
            read = sum(b.num_rows for b in pending)
            restored = min(read, counted) if lost else 0
            counted -= restored
            meta = {"deletes": plan.deletes if not files else [], "reextracted": read, "restored": restored, "by": "repair"}
            _write(ws, key, pending, arrow, meta)
            files.append(key)
            pending = []
            lock.renew()

        # the keys the warehouse lost, then the ones that differ, never in one file: a file of lost
        # keys says how many of its rows the ledger already counts (the load's adjustment row)
        missing = {tuple(k) for k in plan.verdict.missing_in_warehouse}
        lost_keys = [k for k in plan.reextract if tuple(k) in missing]
        counted = _counted_but_gone(ws, ref) if lost_keys and plan.verdict.mode == "append" else 0
        groups = [(lost_keys, True), ([k for k in plan.reextract if tuple(k) not in missing], False)] if counted else [(plan.reextract, False)]
        for keys, lost in groups:
            for batch in _read_rows(ws, schema, keys):
                ctx.check_cancelled()  # a cancel between reads leaves the files written so far as orphans
                pending.append(batch)
                rows += batch.num_rows
                if sum(b.num_rows for b in pending) >= ROWS_PER_FILE:
                    flush(False, lost)
            if pending:
                flush(False, lost)
        flush(True, False)  # a repair that re-extracts nothing still writes its (empty) batch: it carries the deletes
        ctx.check_cancelled()  # the last moment a cancel changes nothing: the commit follows
        new = dataclasses.replace(
            wm, committed_through=str(FilePosition(run_stamp(start), len(files))),
            files_written_total=wm.files_written_total + len(files),
            cumulative=dataclasses.replace(wm.cumulative, extracted=wm.cumulative.extracted + rows),
            redshift_status="pending")
        ws.watermarks.write(new, etag)
        ctx.log("repair batch committed", table=ref.full_name, files=len(files), rows=rows, deletes=len(plan.deletes))
    return files


def prepare_deleted_table(ws: "Workspace", ref: TableRef, ctx: JobContext) -> None:
    """An append table, before its repair batch is written: ``<table>_deleted`` exists and
    ``<table>_latest`` excludes it (``sql_views``). Merge tables: nothing."""
    from s3rb_tui.engine.core.table_settings import resolve_mode
    from s3rb_tui.engine.warehouses.sql_views import ensure_deleted_table, refresh_views

    cfg = ws.table_config(ref)
    with ws.open_source() as source:
        schema = source.discover(ref, cfg.cursor_column, cfg.key_columns)
    if resolve_mode(cfg, schema) != "append":
        return
    if not schema.cursor_column:
        raise UsageError(f"{ref} is an append table without a cursor column: its latest view cannot tell versions apart",
                         f"set cursor_column for {ref} in s3rb.toml, or rebuild it: `s3rb-tui --run rebuild -t {ref} --resync`")
    wh = ws.open_warehouse(log=ctx.log)
    try:
        target = target_for(ws, ref)
        ensure_deleted_table(wh, target, schema.primary_key, schema.cursor_column)
        refresh_views(wh, target, cfg, "append", schema.cursor_column, schema.primary_key, ref.name)
    finally:
        wh.close()


def apply_repair(ws: "Workspace", plan: RepairPlan, ctx: JobContext) -> TableResult:
    """Steps 1 and 2: write the repair batch, then load it like any committed file."""
    from s3rb_tui.engine.ops.load import load_table

    if plan.verdict.mode == "append":
        prepare_deleted_table(ws, plan.ref, ctx)
    write_repair_batch(ws, plan, ctx)
    return load_table(ws, plan.ref, ctx, run_id=f"repair-{uuid.uuid4().hex[:12]}")


def propagate_deletes(ws: "Workspace", ref: TableRef, ctx: JobContext) -> dict[str, Any]:
    """``detect_deletes = true`` (s3rb.toml), after a load: a keys-only verify, and the rows the source
    deleted deleted from the warehouse as a repair batch, under the table's ``max_delete_ratio``.
    {"detected", "deleted", "refused"}: what the run's summary says."""
    from s3rb_tui.engine.ops.load import load_table
    from s3rb_tui.engine.ops.verify_table import verify_table

    cfg = ws.table_config(ref)
    verdict = verify_table(ws, ref, VerifyOptions(keys_only=True, limit=ALL_KEYS))
    plan = RepairPlan(ref, verdict, [], verdict.extra_in_warehouse)
    out: dict[str, Any] = {"detected": len(plan.deletes), "deleted": 0, "refused": None}
    if not plan.deletes:
        return out
    try:
        check_delete_guard(plan, cfg.max_delete_ratio, False, False)
    except UsageError as e:
        out["refused"] = e.message
        ctx.log("deletes not propagated", level="warning", table=ref.full_name, detail=e.message)
        return out
    if verdict.mode == "append":  # recorded in <table>_deleted, which <table>_latest excludes
        prepare_deleted_table(ws, ref, ctx)
    write_repair_batch(ws, plan, ctx)
    result = load_table(ws, ref, ctx, run_id=f"deletes-{uuid.uuid4().hex[:12]}")
    if result.ok:
        out["deleted"] = len(plan.deletes)
    else:
        out["refused"] = result.error
    return out
