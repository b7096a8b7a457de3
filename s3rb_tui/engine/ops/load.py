"""Load: committed files not yet in the ledger -> warehouse, exactly once; then the watermark.

For each table (under its lock): list the committed data files (position <= the watermark's
``committed_through``; with a manual_cli watermark only those written at or after its
timestamp), drop the ones the warehouse ledger already has, bring the target table's columns in
line with the source (create, add new columns; a changed type stops the table), and load the
rest in batches. Each batch is one warehouse transaction that also writes the files' ledger rows,
so a batch is either loaded with its ledger rows or not at all. After each batch the watermark's
warehouse side moves with compare-and-swap.

A run killed between a batch's commit and its watermark update leaves ledger rows the
watermark does not count yet: the next run finds them (ledger files beyond the watermark's
``files_loaded_total``) and counts them into its own session, so the counts converge too.

Schema: from the source (``discover``). When the source cannot be reached (``--redshift-only``
with MySQL down), from the Parquet schema of the files, through ``column_from_arrow`` (the
closest type rule). That fallback only creates missing tables and adds missing columns; it
never reports type changes (Parquet cannot tell JSON from text, or TIME from text).
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from s3rb_tui.engine.warehouses.collations import inexact_warning, key_matching
from s3rb_tui.engine.ops.column_changes import added_column_default, default_warning, refuse_vanished_columns
from s3rb_tui.engine.core.errors import Cancelled, JobError, S3rbError
from s3rb_tui.engine.core.events import JobStatus, TableResult
from s3rb_tui.engine.core.jobs import ENDED_BADLY, JobContext, RateMeter
from s3rb_tui.engine.stores.layout import parse_data_key
from s3rb_tui.engine.ops.table_identity import check_identity
from s3rb_tui.engine.state.locks import TableLock
from s3rb_tui.engine.core.type_rules import TableSchema, column_from_arrow, preflight, warehouse_type
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.ledger import committed_files, file_entries, ledger_keys, ledger_rows
from s3rb_tui.engine.warehouses.targets import refuse_shared_targets, refuse_unholdable_names, target_for
from s3rb_tui.engine.core.table_settings import TableConfig, resolve_mode
from s3rb_tui.engine.warehouses.sql_views import refresh_views
from s3rb_tui.engine.warehouses.base import BatchLimits, LedgerEntry, LoadFile, LoadSpec, Target, Warehouse
from s3rb_tui.engine.warehouses.files import arrow_schema, footer
from s3rb_tui.engine.state.watermarks import Watermark

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


@dataclass
class TablePlan:
    ref: TableRef
    target: Target
    mode: str
    schema: TableSchema
    schema_from: str  # source | parquet
    pending: list[LoadFile]
    ledger_files: int = 0  # files of this table already in the ledger
    newest_run: str | None = None  # run stamp of the newest committed file (replace mode)
    manual_after: str | None = None
    superseded: list[LoadFile] = field(default_factory=list)  # older than a resync's re-read: recorded, not loaded

    @property
    def pending_rows(self) -> int:
        return sum(f.rows for f in self.pending)


# --- small pure helpers -----------------------------------------------------------------

def batches(files: list[LoadFile], limits: BatchLimits = BatchLimits()) -> list[list[LoadFile]]:
    """Consecutive files per load transaction, within the warehouse's limits (a file larger than a
    limit goes alone)."""
    out: list[list[LoadFile]] = []
    current: list[LoadFile] = []
    rows = size = 0
    for f in files:
        full = ((limits.max_files is not None and len(current) >= limits.max_files)
                or (limits.max_rows is not None and rows + f.rows > limits.max_rows)
                or (limits.max_bytes is not None and size + f.size > limits.max_bytes))
        if current and full:
            out.append(current)
            current, rows, size = [], 0, 0
        current.append(f)
        rows += f.rows
        size += f.size
    if current:
        out.append(current)
    return out


# --- schema -------------------------------------------------------------------------------

def discover_schema(ws: "Workspace", ref: TableRef, files: Sequence[tuple[str, int]], ctx: JobContext) -> tuple[TableSchema, str]:
    cfg = ws.table_config(ref)
    try:
        with ws.open_source() as source:
            return source.discover(ref, cfg.cursor_column, cfg.key_columns), "source"
    except Exception as e:
        if not files:
            raise
        ctx.log("source not reachable: using the Parquet schema of the data files", level="warning", table=ref.full_name, error=str(e)[:300])
    names: dict[str, pa.Field] = {}
    for key, _ in files:  # union of columns in file order: a column added later appears in newer files
        for f in arrow_schema(ws.store, key):
            names.setdefault(f.name, f)
    columns = tuple(column_from_arrow(f) for f in names.values())
    return TableSchema(ref=ref, columns=columns, primary_key=cfg.key_columns or (), cursor_column=cfg.cursor_column), "parquet"


def sync_columns(wh: Warehouse, target: Target, schema: TableSchema, cfg: TableConfig, exact: bool, ctx: JobContext,
                 warnings: list[str] | None = None) -> list[str]:
    """Create the target, or add the source's new columns to it (with the value MySQL gave existing
    rows: ``column_changes``). A changed type, or a column gone from the source, raises JobError."""
    desired = [(c.name, warehouse_type(c, wh.dialect)) for c in schema.columns]
    existing = wh.table_columns(target)
    if existing is None:
        names = {c.name for c in schema.columns}
        for k in ((cfg.distkey,) if cfg.distkey else ()) + cfg.sortkey:
            if k not in names:
                raise JobError(f"s3rb.toml names {k!r} as DISTKEY/SORTKEY of {schema.ref}, but the table has no such column")
        wh.create_table(target, desired, cfg.distkey, cfg.sortkey)
        ctx.log("warehouse table created", table=schema.ref.full_name, target=target.full_name, columns=len(desired))
        return [f"created {target.full_name}"]
    if exact:
        refuse_vanished_columns(schema, target, list(existing), wh.fold)
    have = {wh.fold(k): v for k, v in existing.items()}
    present = [(n, t) for n, t in desired if wh.fold(n) in have]
    if exact and present:
        spelled = {wh.fold(k): v for k, v in wh.spelled_types(present).items()}
        changed = [(n, have[wh.fold(n)], spelled[wh.fold(n)]) for n, _ in present if spelled.get(wh.fold(n)) != have[wh.fold(n)]]
        if changed:
            # Which side changed is not known here (a source ALTER, or someone's ALTER in the
            # warehouse): say what differs, not who changed it.
            detail = "; ".join(f"{n}: warehouse has {old}, the source needs {new}" for n, old, new in changed)
            raise JobError(
                f"column types of {target.full_name} in the warehouse do not match {schema.ref} in the source ({detail})",
                f"values are never cast silently: alter the column(s) of {target.full_name} to the source's type (or recreate the table) and run again",
            )
    notes = []
    for c, (n, t) in zip(schema.columns, desired):
        if wh.fold(n) not in have:
            default, reason = added_column_default(c) if exact else (None, None)
            try:
                wh.add_column(target, n, t, default)
            except Exception as e:  # a default the warehouse refuses: the column without it, said
                if default is None:
                    raise
                wh.add_column(target, n, t)
                default, reason = None, f"DEFAULT {c.default} was refused by the warehouse ({str(e).splitlines()[0][:200]})"
            if reason and warnings is not None:
                warnings.append(default_warning(schema, n, reason))
            ctx.log("column added to the warehouse table", table=schema.ref.full_name, target=target.full_name, column=n, type=t, default=default)
            notes.append(f"added column {n} {t}" + (f" DEFAULT {default} (what MySQL gave the rows already there)" if default else ""))
    return notes


# --- one table ------------------------------------------------------------------------------

def plan_table(ws: "Workspace", wh: Warehouse, ref: TableRef, ctx: JobContext, schema: TableSchema | None = None,
               since: str | None = None) -> TablePlan:
    """``since`` (a run stamp): files of earlier runs are superseded (a resync re-read the table)."""
    cfg = ws.table_config(ref)
    wm = ws.watermarks.get(ref)
    keys = committed_files(ws, ref, wm)
    schema_from = "source"
    if schema is None:
        schema, schema_from = discover_schema(ws, ref, keys, ctx)
    target = target_for(ws, ref)
    loaded = ledger_keys(wh, target)
    others = sorted({dk.table for dk in map(parse_data_key, loaded) if dk is not None and dk.table != ref.full_name})
    if others:
        raise JobError(f"{target.full_name} already holds the data of {', '.join(others)}; {ref} cannot share it",
                       f'give one of them its own target: target_table = "..." under [tables."{ref}"] in s3rb.toml')
    older = {k for k, _ in keys if since is not None and parse_data_key(k).position.run_stamp < since}  # type: ignore[union-attr]
    pending = [footer(ws.store, k, s) for k, s in keys if k not in loaded and k not in older]
    superseded = [LoadFile(k, 0, s, ()) for k, s in keys if k in older and k not in loaded]
    newest = parse_data_key(keys[-1].key).position.run_stamp if keys else None  # type: ignore[union-attr]
    manual = wm.manual_timestamp if wm and wm.backup_strategy == "manual_cli" else None
    return TablePlan(ref, target, resolve_mode(cfg, schema), schema, schema_from, pending, len(loaded), newest, manual, superseded)


_DDL_LOCK = threading.Lock()


def _ensure_ledger(wh: Warehouse) -> None:
    """Schema and ledger, created once even when tables load in parallel (CREATE … IF NOT EXISTS
    races in PostgreSQL's catalog); a race with another process is retried once."""
    with _DDL_LOCK:
        try:
            wh.ensure_schema_and_ledger()
        except Exception:
            wh.ensure_schema_and_ledger()


def refuse_unsafe(plan: TablePlan, cfg: TableConfig, dialect: str) -> None:
    """Stop the table (JobError) before anything is loaded when the load could not be exact."""
    name = plan.ref.full_name
    if plan.schema_from == "parquet" and not cfg.load_mode and plan.pending:
        raise JobError(f"{name}: the source is not reachable and the data files do not say how to load them (merge keys, snapshot or append)",
                       'set load_mode (and key_columns, cursor_column for "merge") for this table in s3rb.toml, or run when the source is reachable')
    too_wide = [c.name for c in plan.schema.columns if dialect == "redshift" and c.rule.name == "decimal" and (c.precision or 0) > 38]
    if too_wide:
        raise JobError(f"{name}: DECIMAL column(s) {', '.join(too_wide)} are wider than Redshift's 38 digits; their values cannot be loaded exactly",
                       "narrow the columns in MySQL, or load this table into PostgreSQL/DuckDB")
    if plan.mode == "merge" and not plan.schema.primary_key:
        raise JobError(f"{name} is configured for merge loads but has no key columns", 'set key_columns in s3rb.toml, or load_mode = "append"')


def refuse_lost_table(wh: Warehouse, plan: TablePlan) -> None:
    """A target the ledger has loaded files into but the warehouse no longer has was dropped
    outside the pipeline: loading only the new files would leave it with a fraction of its rows
    (one of thirty, exit 0, before this check). Stop the table and name the command that rebuilds it."""
    if plan.ledger_files and wh.table_columns(plan.target) is None:
        raise JobError(f"{plan.target.full_name} is missing from the warehouse, but its load ledger lists {plan.ledger_files:,} file(s) "
                       f"of {plan.ref} as loaded: the table was dropped outside the pipeline; nothing was loaded",
                       f"rebuild it from the committed files in the store: s3rb-tui --run rebuild -t {plan.ref}")


def refuse_unledgered_rows(wh: Warehouse, plan: TablePlan) -> None:
    """The ledger must never silently look absent: a target that holds rows while the ledger lists
    none of its files (the ledger was dropped, REDSHIFT_SCHEMA now names another schema, or another
    tool filled the table) would get every committed file loaded again on top. Stop the table and
    say so; a manual_cli watermark (the operator chose the files: the manual's recipe for a table
    loaded before) goes ahead."""
    if not plan.pending or plan.ledger_files or plan.manual_after or wh.table_columns(plan.target) is None:
        return
    existing = wh.count_rows(plan.target)
    if existing:
        raise JobError(f"{plan.target.full_name} holds {existing:,} rows but the load ledger {wh.ledger.full_name} lists none of its files: "
                       f"loading would load all {len(plan.pending):,} committed files of {plan.ref} again; nothing was loaded",
                       f"if the ledger was dropped or REDSHIFT_SCHEMA changed, restore it; to load only files written after a "
                       f"moment: watermark set -t {plan.ref} --timestamp ...; to rebuild the table from the store: rebuild -t {plan.ref}")


def _unaccounted(entries: list[LedgerEntry], wm: Watermark | None) -> list[LedgerEntry]:
    """Ledger rows the watermark does not count yet (a run killed between commit and watermark)."""
    counted = wm.files_loaded_total if wm else 0
    return entries[counted:] if len(entries) > counted else []


def load_table(ws: "Workspace", ref: TableRef, ctx: JobContext, *, run_id: str, dry_run: bool = False,
               schema: TableSchema | None = None, rebuild: bool = False,
               since: str | None = None) -> TableResult:
    """Load the table's committed files not in the ledger. ``rebuild``: first drop the warehouse
    table and its ledger rows (one transaction, under the table's lock), so every committed file
    loads again (``engine.rebuild`` plans it); with ``since``, files of runs before it are recorded
    as superseded instead (a resync read the whole table again at ``since``)."""
    name = ref.full_name
    result = TableResult(table=name)
    started = time.monotonic()
    lock: TableLock | None = None
    wh: Warehouse | None = None
    try:
        ctx.check_cancelled()
        if not dry_run:
            lock = TableLock(ws.store, ref, purpose=f"{ctx.name} (load)", log=ctx.log).acquire()
        wh = ws.open_warehouse(reading=dry_run, log=ctx.log)
        schema_from = "source"
        if schema is None:
            schema, schema_from = discover_schema(ws, ref, committed_files(ws, ref, ws.watermarks.get(ref)), ctx)
        refuse_unholdable_names(schema, target_for(ws, ref), wh.dialect)  # before any DDL, the ledger's too
        if not dry_run:
            _ensure_ledger(wh)
        if rebuild and not dry_run:
            wh.forget_table(target_for(ws, ref))
            ws.watermarks.update(ref, lambda w: w.with_load_cleared())
            ctx.log("warehouse table dropped with its ledger rows, to be rebuilt from the store", level="warning",
                    table=name, target=target_for(ws, ref).full_name)
        plan = plan_table(ws, wh, ref, ctx, schema, since)
        plan.schema_from = schema_from
        refuse_lost_table(wh, plan)
        refuse_unledgered_rows(wh, plan)
        identity = check_identity(ws, wh, plan, ctx) if schema_from == "source" and not dry_run else None
        cfg = ws.table_config(ref)
        result.details.update(target=plan.target.full_name, mode=plan.mode, schema_from=plan.schema_from,
                              pending_files=len(plan.pending), pending_rows=plan.pending_rows, dialect=wh.dialect)
        result.warnings.extend(w for w in preflight(plan.schema, wh.dialect) if "full snapshot" not in w)
        result.warnings.extend(getattr(wh, "option_warnings", []))
        if plan.mode == "merge" and inexact_warning(plan.schema):
            result.warnings.append(inexact_warning(plan.schema))  # type: ignore[arg-type]
        if plan.manual_after:
            ctx.log(f"Using manual watermark-based incremental loading: files after {plan.manual_after}", table=name)
        if dry_run:
            result.status, result.rows, result.files = JobStatus.DRY_RUN, plan.pending_rows, len(plan.pending)
            return result
        refuse_unsafe(plan, cfg, wh.dialect)
        if plan.mode == "append" and plan.pending and not plan.ledger_files and wh.table_columns(plan.target) is not None:
            existing = wh.count_rows(plan.target)  # only with a manual_cli watermark (refuse_unledgered_rows)
            if existing:
                result.warnings.append(f"{plan.target.full_name} already held {existing:,} rows no ledger entry accounts for "
                                       "(loaded by another tool?); appended rows come on top of them")
        result.details["schema_changes"] = sync_columns(wh, plan.target, plan.schema, cfg, plan.schema_from == "source", ctx, result.warnings)
        rows, files = _load_pending(ws, wh, plan, ctx, run_id, lock, result.warnings, committed=result)
        result.rows, result.files = rows, len(files)
        result.status = JobStatus.SUCCESS if plan.pending else JobStatus.NO_NEW_DATA
        if identity is not None:  # check_identity returns None without a watermark
            ws.watermarks.update(ref, lambda w: replace(w, source_identity=identity))
        views = refresh_views(wh, plan.target, cfg, plan.mode, plan.schema.cursor_column, plan.schema.primary_key, ref.name)
        result.details["views"] = views.created
        result.warnings.extend(views.skipped)
        ctx.log("table loaded" if plan.pending else "no new files to load", table=name, rows=rows, files=len(files), target=plan.target.full_name)
    except Cancelled as e:
        result.status, result.error = JobStatus.CANCELLED, str(e)
    except S3rbError as e:
        result.status, result.error, result.hint = JobStatus.FAILED, e.message, e.hint
    except Exception as e:  # a driver error: this table fails, the run goes on
        text = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        result.status = JobStatus.FAILED
        if _connection_lost(e):
            result.error = f"lost the warehouse connection during the load ({text}); the batch in flight was rolled back, committed batches stay"
            result.hint = "run again: files already in the ledger are skipped"
        else:
            result.error = f"{e.__class__.__name__}: {text}"
    finally:
        if result.status in ENDED_BADLY and lock is not None and lock.held:
            record_failure(ws, ref, result, ctx)  # a refused run leaves the holder's watermark alone
        if wh is not None:
            wh.close()
        if lock is not None:
            try:
                lock.release()
            except Exception:
                pass
        result.seconds = round(time.monotonic() - started, 3)
        ctx.table_done(result)
    return result


def _load_pending(ws: "Workspace", wh: Warehouse, plan: TablePlan, ctx: JobContext, run_id: str,
                  lock: TableLock | None, warnings: list[str], committed: TableResult | None = None) -> tuple[int, list[str]]:
    """Load the plan's files batch by batch; values changed so the warehouse could hold them
    (``warehouses.values``) are added to ``warnings`` and logged. ``committed``'s rows and files
    follow the committed batches, so a load cancelled or failed midway reports what it loaded."""
    name = plan.ref.full_name
    wm = ws.watermarks.get(plan.ref)
    recovered = _unaccounted(file_entries(wh.ledger_entries(plan.target)), wm)
    session_rows = sum(e.rows for e in recovered)
    session_files = [e.key for e in recovered]
    if recovered:
        ctx.log("counting files loaded by an interrupted run", level="warning", table=name, files=len(recovered), rows=session_rows)
    if not plan.pending and not plan.superseded:
        if recovered:
            ws.watermarks.update(plan.ref, lambda w: w.with_load_commit(session_id=run_id, rows=session_rows, files=session_files, status="success"))
        elif wm is not None and wm.redshift_status == "pending":
            ws.watermarks.update(plan.ref, lambda w: w.with_load_commit(session_id=run_id, rows=0, files=[], status="success"))
        return 0, []
    spec = LoadSpec(plan.mode, keys=plan.schema.primary_key, cursor=plan.schema.cursor_column, key_match=key_matching(plan.schema))
    if plan.mode == "replace":
        groups = [_replace_group(plan.pending, plan.newest_run)]
    else:
        groups = [(part, []) for b in batches(plan.pending, wh.batch_limits) for part in _repairs_apart(b, plan.mode)]
    if plan.superseded:
        groups = [(groups[0][0], groups[0][1] + plan.superseded)] + groups[1:] if groups else [([], plan.superseded)]
    meter = RateMeter()
    loaded_rows = 0
    loaded_files: list[str] = []
    total = plan.pending_rows

    def progress(n: int) -> None:
        nonlocal loaded_rows
        loaded_rows += n
        ctx.progress(name, rows=loaded_rows, files=len(loaded_files), total=total, rows_per_s=round(meter.rate(loaded_rows), 1), phase="load")

    ctx.progress(name, rows=0, files=0, total=total, rows_per_s=0.0, phase="load")
    for i, (files, superseded) in enumerate(groups):
        ctx.check_cancelled()
        batch_spec = spec if files else LoadSpec("append")  # only superseded files: record them, touch nothing
        deletes = tuple(k for f in files for k in f.delete_keys)
        if deletes and batch_spec.mode == "merge":  # a repair batch: its deletes commit with its rows and ledger row
            batch_spec = replace(batch_spec, delete_keys=deletes)
        elif batch_spec.mode == "append" and files and files[0].repair:  # alone in its batch (_repairs_apart)
            batch_spec = replace(batch_spec, mode="merge", history=True, delete_keys=deletes,
                                 ledger_rows=ledger_rows(wh, plan.target) if any(f.restored for f in files) else None)
        outcome = wh.load_batch(plan.target, files, batch_spec, run_id, progress=progress, ledger_only=superseded)
        for w in outcome.warnings:
            ctx.log("value changed so the warehouse can hold it", level="warning", table=name, detail=w)
        warnings.extend(outcome.warnings)
        loaded_files += outcome.files + [f.key for f in superseded]
        session_rows += outcome.rows
        session_files += outcome.files + [f.key for f in superseded]
        last = i == len(groups) - 1
        rows_now, files_now = session_rows, list(session_files)
        ws.watermarks.update(plan.ref, lambda w: w.with_load_commit(session_id=run_id, rows=rows_now, files=files_now,
                                                                     status="success" if last else "pending"))
        if committed is not None:
            committed.rows, committed.files = committed.rows + outcome.rows, len(loaded_files)
        if lock is not None:
            lock.renew()
    return loaded_rows, loaded_files


def _repairs_apart(files: list[LoadFile], mode: str) -> list[list[LoadFile]]:
    """An append table's batch cut where repair batches start and end: a repair batch loads as
    history (``sql_views.history_statements``), the files around it as they are."""
    if mode != "append" or not any(f.repair for f in files):
        return [files]
    parts: list[list[LoadFile]] = []
    for f in files:
        if parts and parts[-1][-1].repair == f.repair:
            parts[-1].append(f)
        else:
            parts.append([f])
    return parts


def _replace_group(pending: list[LoadFile], newest: str | None) -> tuple[list[LoadFile], list[LoadFile]]:
    """Snapshot tables: the newest run's files replace the table; older runs' files are superseded
    (recorded in the ledger with 0 rows). When the newest run is loaded already, nothing is loaded."""
    load = [f for f in pending if parse_data_key(f.key).position.run_stamp == newest]  # type: ignore[union-attr]
    return load, [f for f in pending if f not in load]


def _connection_lost(e: Exception) -> bool:
    from s3rb_tui.engine.core.retry import PG_CONNECTION_LOST

    text = str(e).lower()
    return getattr(e, "pgcode", None) in ("57P01", "57P02") or any(p in text for p in PG_CONNECTION_LOST)


def record_failure(ws: "Workspace", ref: TableRef, result: TableResult, ctx: JobContext) -> None:
    try:
        if ws.watermarks.get(ref) is not None:
            if result.status == JobStatus.CANCELLED:
                ws.watermarks.update(ref, lambda wm: wm.with_cancel("redshift"))
            else:
                ws.watermarks.update(ref, lambda wm: wm.with_failure("redshift", result.error or result.status))
    except Exception as e:
        ctx.log("could not record the failure in the watermark", level="warning", table=ref.full_name, error=str(e))


# --- many tables ----------------------------------------------------------------------------

def new_run_id() -> str:
    return f"load-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def run_load(ws: "Workspace", tables: list[TableRef], ctx: JobContext, *, dry_run: bool = False,
             run_id: str | None = None, max_parallel: int | None = None) -> list[TableResult]:
    """Load every table's unloaded committed files; REDSHIFT_MAX_PARALLEL_LOADS tables at once.
    A job like the others: started first, one result per table, finished last (inside a sync,
    the sync turns its start and finish into its "load phase" log lines)."""
    refuse_shared_targets(ws, tables)
    started = time.monotonic()
    run_id = run_id or new_run_id()
    ctx.started([t.full_name for t in tables], dry_run=dry_run, run_id=run_id)
    parallel = max_parallel or ws.settings.int("REDSHIFT_MAX_PARALLEL_LOADS")
    from s3rb_tui.engine.warehouses import resolve_dialect_name

    if resolve_dialect_name(ws.settings) == "duckdb":
        parallel = 1  # one writer per DuckDB file
    if parallel > 1 and len(tables) > 1:
        with ThreadPoolExecutor(max_workers=min(parallel, len(tables)), thread_name_prefix="s3rb-load") as pool:
            results = list(pool.map(lambda t: load_table(ws, t, ctx, run_id=run_id, dry_run=dry_run), tables))
    else:
        results = [load_table(ws, t, ctx, run_id=run_id, dry_run=dry_run) for t in tables]
    ctx.finished("Load operation completed", results, started=started, run_id=run_id)
    return results
