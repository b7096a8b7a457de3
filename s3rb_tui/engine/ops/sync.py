"""sync: MySQL -> S3 (the backup job) then S3 -> warehouse (the load job), per table.

``backup_only`` stops after the backup; ``load_only`` (the CLI's ``--redshift-only``, for any warehouse) skips it and loads the committed files
not loaded yet (honouring a manual_cli watermark). A table whose backup failed is not loaded.
Each table gets one combined result: its status, the rows loaded (extracted with
``backup_only``, or when the load did not run), the run's rate over both phases, and both
phases' details. A failed or cancelled table still reports what was committed before it stopped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from s3rb_tui.engine.core.errors import S3rbError
from s3rb_tui.engine.core.events import EngineEvent, JobFinished, JobStarted, JobStatus, TableDone, TableResult
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.ops.counts import validate_table
from s3rb_tui.engine.ops.load import new_run_id, record_failure, run_load
from s3rb_tui.engine.warehouses.targets import refuse_shared_targets
from s3rb_tui.engine.core.table_names import TableRef

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


def _phase_context(ctx: JobContext, phase: str) -> JobContext:
    """A context for one phase: its events go to ``ctx`` as they happen; the phase's own
    start/finish and per-table results become log lines, the combined result is sync's."""

    def forward(ev: EngineEvent) -> None:
        if isinstance(ev, JobStarted):
            ctx.log(f"{phase} phase started", **ev.record())
        elif isinstance(ev, JobFinished):
            ctx.log(f"{phase} phase finished", **ev.record())
        elif isinstance(ev, TableDone):
            r = ev.result
            ctx.log(f"{phase} done", level="info" if r.ok else "error", table=r.table,
                    status=r.status, rows=r.rows, files=r.files, error=r.error)
        else:
            ctx.emit(ev)

    return JobContext(ctx.name, sink=forward, cancel=ctx.cancel, job_id=ctx.job_id)


def _phase_summary(r: TableResult) -> dict:
    return {"status": r.status, "rows": r.rows, "files": r.files, "bytes": r.bytes, "seconds": r.seconds,
            "error": r.error, "hint": r.hint, "warnings": r.warnings, "details": r.details}


def _combine(table: str, backup: TableResult | None, load: TableResult | None) -> TableResult:
    out = TableResult(table=table)
    phases = [p for p in (backup, load) if p is not None]
    failed = next((p for p in phases if not p.ok), None)
    if failed is not None:
        out.status, out.error, out.hint = failed.status, failed.error, failed.hint
    elif any(p.status == JobStatus.DRY_RUN for p in phases):
        out.status = JobStatus.DRY_RUN
    elif any(p.status == JobStatus.SUCCESS for p in phases):
        out.status = JobStatus.SUCCESS
    else:
        out.status = JobStatus.NO_NEW_DATA
    # what the run moved: the load's counts once it loaded something (or succeeded), else what
    # the backup committed (a load that failed or was skipped must not hide the backup's files)
    loaded = load is not None and load.status != JobStatus.SKIPPED and (load.ok or load.rows or load.files)
    main = load if loaded or backup is None else backup
    if main is not None:
        out.rows, out.files, out.bytes = main.rows, main.files, main.bytes
    if failed is not None and backup is not None and backup.files and failed is not backup:
        # the load failed after the backup committed files: they are kept and load next time
        out.error = (f"{out.error} (the backup step committed {backup.files} file(s), {backup.rows:,} rows; "
                     "the files not loaded yet stay in the store and load on the next sync)")
    elif failed is backup and backup is not None and backup.files:
        out.error = f"{out.error} (committed before it stopped: {backup.files} file(s), {backup.rows:,} rows; the next run goes on from there)"
    out.seconds = round(sum(p.seconds for p in phases), 3)  # rows_per_s: the run's rate over both phases
    for p in phases:
        out.warnings.extend(w for w in p.warnings if w not in out.warnings)
    if backup is not None:
        out.details["backup"] = _phase_summary(backup)
    if load is not None:
        out.details["load"] = _phase_summary(load)
    return out


def _detect_deletes(ws: "Workspace", result: TableResult, ctx: JobContext) -> None:
    """``detect_deletes = true``: propagate the source's deletes after the load (``engine/ops/repair.py``);
    the load's details and warnings say how many."""
    ref = TableRef.parse(result.table)
    if not ws.table_config(ref).detect_deletes:
        return
    from s3rb_tui.engine.ops.repair import propagate_deletes

    try:
        found = propagate_deletes(ws, ref, ctx)
    except S3rbError as e:
        found = {"detected": None, "deleted": 0, "refused": e.message}
    result.details["deletes"] = found
    if found["deleted"]:
        result.warnings.append(f"{found['deleted']:,} row(s) deleted at the source deleted from the warehouse (detect_deletes)")
    if found["refused"]:
        result.warnings.append(f"deletes not propagated: {found['refused']}")


def _verify(ws: "Workspace", ref: TableRef, load: TableResult, ctx: JobContext) -> None:
    """``--verify-data``: cross-check the counts of a table the load finished (``validate_table``);
    a failed check fails the table (its load result, so the combined result says so too) and is
    recorded in the watermark as a failed load, as a failed load is."""
    report = validate_table(ws, ref)
    load.details["verification"] = report.to_json()
    if report.unexpected:
        load.status = JobStatus.FAILED
        load.error = "verification failed: " + "; ".join(report.unexpected)
        ctx.log("verification failed", level="error", table=ref.full_name, error=load.error)
        record_failure(ws, ref, load, ctx)


def run_sync(
    ws: "Workspace",
    tables: list[TableRef],
    ctx: JobContext,
    *,
    strategy: str = "sequential",
    backup_only: bool = False,
    load_only: bool = False,
    limit: int | None = None,
    verify: bool = False,
    dry_run: bool = False,
    max_workers: int | None = None,
    batch_size: int | None = None,
    extract_engine: str | None = None,
) -> list[TableResult]:
    if backup_only and load_only:
        raise ValueError("backup_only and load_only exclude each other")
    if not backup_only:
        refuse_shared_targets(ws, tables)  # before the backup: two tables mixed in one target is never run
    started = time.monotonic()
    run_id = new_run_id()
    ctx.started([t.full_name for t in tables], strategy=strategy, dry_run=dry_run,
                backup_only=backup_only, redshift_only=load_only, run_id=run_id)  # the log's field name stays
    backups: dict[str, TableResult] = {}
    if not load_only:
        from s3rb_tui.engine.ops.backup import run_backup

        for r in run_backup(ws, tables, _phase_context(ctx, "backup"), strategy=strategy, batch_size=batch_size, limit=limit,
                            max_workers=max_workers, dry_run=dry_run, extract_engine=extract_engine):
            backups[r.table] = r
    loads: dict[str, TableResult] = {}
    if not backup_only:
        to_load = [t for t in tables if t.full_name not in backups or backups[t.full_name].ok]
        load_ctx = _phase_context(ctx, "load")
        for r in run_load(ws, to_load, load_ctx, dry_run=dry_run, run_id=run_id):
            if verify and r.status in ("success", "no new data"):
                _verify(ws, TableRef.parse(r.table), r, ctx)
            loads[r.table] = r
            if r.ok and not dry_run:
                _detect_deletes(ws, r, load_ctx)
        for t in tables:
            if t.full_name not in loads and t.full_name in backups:
                skipped = TableResult(table=t.full_name, status=JobStatus.SKIPPED, error="not loaded: the backup of this table failed")
                loads[t.full_name] = skipped
    results = []
    for t in tables:
        combined = _combine(t.full_name, backups.get(t.full_name), loads.get(t.full_name))
        ctx.table_done(combined)
        results.append(combined)
    ctx.finished("Sync operation completed", results, started=started, run_id=run_id)
    return results

