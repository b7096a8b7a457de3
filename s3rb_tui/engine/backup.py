"""Backup: windows of changed rows -> Parquet batches in the store, under a per-table lock.

For each table: take the lock, read the watermark, remove files an interrupted run wrote but
never committed, discover the schema, fix the run's upper bound once from the source's clock,
then page through the rows strictly after the watermark (keyset on cursor column + primary key).
Every batch becomes one ``..._batch_NNNN.parquet``; the watermark moves (compare-and-swap) only
after that file is durably written. Tables without a cursor column or a primary key are taken as
a full snapshot, committed once at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from s3rb_tui.engine.errors import Cancelled, JobError, S3rbError, WatermarkError
from s3rb_tui.engine.jobs import JobContext, RateMeter, TableResult
from s3rb_tui.engine.layout import FilePosition, data_key, parse_data_key, run_stamp, stamp_to_datetime, table_prefix
from s3rb_tui.engine.locks import TableLock
from s3rb_tui.engine.schema import ConversionStats, TableSchema, preflight
from s3rb_tui.engine.sources.base import Position, Source
from s3rb_tui.engine.tables import TableRef
from s3rb_tui.engine.watermarks import Watermark

if TYPE_CHECKING:
    from s3rb_tui.engine.workspace import Workspace

STRATEGIES = ("sequential", "inter-table")


@dataclass
class BackupPlan:
    """What a run of one table would do (``--dry-run`` shows it; the run follows it)."""

    table: TableRef
    schema: TableSchema
    mode: str  # incremental | snapshot
    start: Position
    upper_bound: str
    estimated_rows: int
    estimated_bytes: int | None
    extract_path: str
    orphans: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "table": self.table.full_name,
            "mode": self.mode,
            "cursor_column": self.schema.cursor_column,
            "primary_key": list(self.schema.primary_key),
            "after": {"cursor": self.start.cursor, "key": list(self.start.key) if self.start.key else None, "nulls_done": self.start.nulls_done},
            "upper_bound": self.upper_bound,
            "estimated_rows": self.estimated_rows,
            "estimated_bytes": self.estimated_bytes,
            "extract_path": self.extract_path,
            "uncommitted_files_to_remove": len(self.orphans),
            "warnings": self.warnings,
        }


def _format_bound(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _start_position(wm: Watermark | None) -> Position:
    if wm is None:
        return Position()
    key = tuple(wm.last_key) if wm.last_key is not None else None
    return Position(cursor=wm.last_data_timestamp, key=key, nulls_done=wm.nulls_done)


def find_orphans(ws: "Workspace", table: TableRef, wm: Watermark | None) -> tuple[list[str], int]:
    """(data files after the committed point, number of committed data files)."""
    committed = wm.committed_position if wm else None
    orphans, kept = [], 0
    for info in ws.store.list(table_prefix(ws.incremental_path, table)):
        parsed = parse_data_key(info.key)
        if parsed is None or parsed.table != table.full_name:
            continue
        if committed is None or parsed.position > committed:
            orphans.append(info.key)
        else:
            kept += 1
    return orphans, kept


def _read_watermark(ws: "Workspace", table: TableRef) -> tuple[Watermark | None, str | None]:
    wm, etag = ws.watermarks.read(table)
    return wm, etag


def plan_backup(ws: "Workspace", table: TableRef, source: Source, *, extract_path: str = "pymysql") -> BackupPlan:
    cfg = ws.table_config(table)
    wm, _ = _read_watermark(ws, table)
    orphans, committed_files = find_orphans(ws, table, wm)
    if wm is None and committed_files == 0 and orphans:
        # Files but no watermark at all: never a silent full reload on top of them.
        raise WatermarkError(
            f"{table} has {len(orphans)} data files under {table_prefix(ws.incremental_path, table)} but no watermark",
            f"restore the watermark, or run `s3rb-tui --run watermark reset -t {table}` to start afresh (the files are then treated as uncommitted and removed by the next backup)",
        )
    schema = source.discover(table, cfg.cursor_column, cfg.key_columns)
    lag = ws.settings.int("BACKUP_LAG_SECONDS")
    upper = _format_bound(source.now() - dt.timedelta(seconds=lag))
    start = _start_position(wm) if schema.incremental else Position()
    estimate = source.estimate(schema, start, upper)
    warnings = [w for w in preflight(schema, "redshift") if "full snapshot" in w]
    if schema.is_view:
        warnings.append("this is a view: backed up like a table")
    return BackupPlan(
        table=table,
        schema=schema,
        mode="incremental" if schema.incremental else "snapshot",
        start=start,
        upper_bound=upper,
        estimated_rows=estimate.rows,
        estimated_bytes=estimate.bytes,
        extract_path=extract_path,
        orphans=orphans,
        warnings=warnings,
    )


def _next_run_start(wm: Watermark | None) -> dt.datetime:
    """The run's start time names its files; it must sort after every committed file."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    committed = wm.committed_position if wm else None
    if committed is not None:
        last = stamp_to_datetime(committed.run_stamp)
        if now <= last:
            now = last + dt.timedelta(seconds=1)
    return now


class _ParquetBatchWriter:
    """One batch -> one Parquet file on local disk, then uploaded durably."""

    def __init__(self, tmpdir: str):
        self.tmpdir = tmpdir

    def write(self, batch) -> str:
        fd, path = tempfile.mkstemp(suffix=".parquet", dir=self.tmpdir)
        os.close(fd)
        with pq.ParquetWriter(path, batch.schema, compression="snappy") as w:
            w.write_batch(batch)
        return path


def backup_table(
    ws: "Workspace",
    table: TableRef,
    ctx: JobContext,
    *,
    strategy: str = "sequential",
    batch_size: int | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    extract_engine: str | None = None,
) -> TableResult:
    name = table.full_name
    result = TableResult(table=name)
    started = time.monotonic()
    batch_size = batch_size or ws.settings.int("BACKUP_BATCH_SIZE")
    extract_path = "pymysql" if ws.settings.str("DB_DIALECT") == "mysql" else ws.settings.str("DB_DIALECT")
    lock: TableLock | None = None
    source: Source | None = None
    written: list[str] = []  # keys of this run
    pending_key: str | None = None
    try:
        ctx.check_cancelled()
        if not dry_run:
            lock = TableLock(ws.store, table, purpose=f"{ctx.name} ({strategy})", log=ctx.log).acquire()
        source = ws.open_source()
        plan = plan_backup(ws, table, source, extract_path=extract_path)
        result.details.update(plan.describe())
        result.warnings.extend(plan.warnings)
        if dry_run:
            result.status = "dry run"
            result.rows = plan.estimated_rows
            ctx.log("dry run", table=name, **plan.describe())
            return result
        ctx.log("table processing started", table=name, mode=plan.mode, upper_bound=plan.upper_bound,
                after=plan.describe()["after"], estimated_rows=plan.estimated_rows, extract_path=extract_path)
        if plan.orphans:
            errors = ws.store.delete_many(plan.orphans)
            if errors:
                raise JobError(f"could not remove {len(errors)} uncommitted files of an interrupted run under {table_prefix(ws.incremental_path, table)}: {errors[0].code} {errors[0].message}")
            ctx.log("removed uncommitted files of an interrupted run", level="warning", table=name, files=len(plan.orphans))

        wm, etag = _read_watermark(ws, table)
        current = wm or Watermark(table=name)
        run_start = _next_run_start(wm)
        stamp = run_stamp(run_start)
        session_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
        result.details["run_stamp"] = stamp
        stats = ConversionStats()
        null_rows = 0
        rows = 0
        nbytes = 0
        position = plan.start
        meter = RateMeter()
        total = plan.estimated_rows if limit is None else min(plan.estimated_rows, limit)
        ctx.progress(name, rows=0, files=0, total=total, rows_per_s=0.0)
        with tempfile.TemporaryDirectory(prefix="s3rb-") as tmpdir:
            writer = _ParquetBatchWriter(tmpdir)
            for batch_no, sb in enumerate(source.read_batches(plan.schema, plan.start, plan.upper_bound, batch_size, limit), start=1):
                ctx.check_cancelled()
                path = writer.write(sb.batch)
                size = os.path.getsize(path)
                pending_key = data_key(ws.incremental_path, table, run_start, batch_no)
                ws.store.put_file(pending_key, path)
                os.unlink(path)
                written.append(pending_key)
                rows += sb.batch.num_rows
                nbytes += size
                null_rows += sb.null_cursor_rows
                stats.merge(sb.stats)
                position = sb.end
                if plan.mode == "incremental":
                    current = current.with_backup_commit(
                        session_id=session_id, strategy=strategy, rows=rows, files=written,
                        position=FilePosition(stamp, batch_no), last_data_timestamp=position.cursor,
                        last_key=list(position.key) if position.key is not None else None,
                        nulls_done=position.nulls_done or position.cursor is not None,
                        status="running", null_cursor_rows=null_rows, zero_dates=stats.total_zero_dates,
                    )
                    etag = ws.watermarks.write(current, etag)
                pending_key = None
                if lock is not None:
                    lock.renew()
                ws.ensure_tunnels()
                ctx.progress(name, rows=rows, files=len(written), total=total, rows_per_s=round(meter.rate(rows), 1),
                             eta_s=meter.eta(rows, total), bytes=nbytes)
        # Final commit: snapshot runs commit all their files at once; incremental runs mark success.
        last_position = FilePosition(stamp, len(written)) if written else None
        current = current.with_backup_commit(
            session_id=session_id, strategy=strategy, rows=rows, files=written,
            position=last_position,
            last_data_timestamp=position.cursor if plan.mode == "incremental" else current.last_data_timestamp,
            last_key=(list(position.key) if position.key is not None else None) if plan.mode == "incremental" else current.last_key,
            nulls_done=(position.nulls_done or position.cursor is not None or plan.start.nulls_done) if plan.mode == "incremental" else current.nulls_done,
            status="success", null_cursor_rows=null_rows, zero_dates=stats.total_zero_dates,
        )
        from dataclasses import replace as _replace

        current = _replace(current, last_run_result="success" if rows else "no new data")
        if plan.mode == "snapshot" and written:
            current = _replace(current, last_data_timestamp=None, last_key=None)
        ws.watermarks.write(current, etag)
        result.status = "success" if rows else "no new data"
        result.rows, result.files, result.bytes = rows, len(written), nbytes
        if stats.total_zero_dates:
            result.details["zero_dates"] = dict(stats.zero_dates)
            result.warnings.append(f"{stats.total_zero_dates} zero dates became NULL ({', '.join(f'{k}: {v}' for k, v in stats.zero_dates.items())})")
        if null_rows:
            result.details["null_cursor_rows"] = null_rows
            result.warnings.append(
                f"{null_rows} rows have NULL {plan.schema.cursor_column}: included in this full backup, but changes to them cannot be tracked incrementally"
            )
        ctx.log("watermark updated successfully" if rows else "no new data", table=name, rows=rows, files=len(written),
                new_watermark=current.last_data_timestamp)
    except Cancelled as e:
        result.status, result.error = "cancelled", str(e)
    except S3rbError as e:
        result.status, result.error, result.hint = "failed", e.message, e.hint
    except Exception as e:  # a driver or I/O error: the table fails, the run goes on
        result.status, result.error = "failed", f"{e.__class__.__name__}: {e}"
    finally:
        if result.status in ("failed", "cancelled"):
            _after_failure(ws, table, result, pending_key, ctx)
        if source is not None:
            try:
                source.close()
            except Exception:
                pass
        if lock is not None:
            try:
                lock.release()
            except Exception:
                pass
        result.seconds = round(time.monotonic() - started, 3)
        ctx.table_done(result)
    return result


def _after_failure(ws: "Workspace", table: TableRef, result: TableResult, pending_key: str | None, ctx: JobContext) -> None:
    """Best effort: drop the file that was being written, and record the failure (the position stays)."""
    if pending_key:
        try:
            ws.store.delete_many([pending_key])
        except Exception:
            pass
    try:
        if ws.watermarks.get(table) is not None:
            ws.watermarks.update(table, lambda wm: wm.with_failure("mysql", result.error or result.status))
    except Exception as e:
        ctx.log("could not record the failure in the watermark", level="warning", table=table.full_name, error=str(e))


def run_backup(
    ws: "Workspace",
    tables: list[TableRef],
    ctx: JobContext,
    *,
    strategy: str = "sequential",
    batch_size: int | None = None,
    limit: int | None = None,
    max_workers: int | None = None,
    dry_run: bool = False,
    extract_engine: str | None = None,
) -> list[TableResult]:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    started = time.monotonic()
    ctx.emit("started", tables=[t.full_name for t in tables], strategy=strategy, dry_run=dry_run)
    kwargs = dict(strategy=strategy, batch_size=batch_size, limit=limit, dry_run=dry_run, extract_engine=extract_engine)
    if strategy == "inter-table" and len(tables) > 1:
        workers = max_workers or ws.settings.int("BACKUP_MAX_WORKERS")
        with ThreadPoolExecutor(max_workers=min(workers, len(tables)), thread_name_prefix="s3rb-backup") as pool:
            results = list(pool.map(lambda t: backup_table(ws, t, ctx, **kwargs), tables))
    else:
        results = [backup_table(ws, t, ctx, **kwargs) for t in tables]
    ok = all(r.ok for r in results)
    ctx.emit(
        "finished",
        event="Backup operation completed",
        success=ok,
        strategy=strategy,
        duration_seconds=round(time.monotonic() - started, 3),
        successful_tables=[r.table for r in results if r.ok],
        failed_tables=[r.table for r in results if not r.ok],
        rows=sum(r.rows for r in results),
        files=sum(r.files for r in results),
    )
    return results
