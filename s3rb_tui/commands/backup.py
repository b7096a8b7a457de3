"""``backup``: MySQL -> S3 for the given tables."""

from __future__ import annotations

import time

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.engine.wiring.extract_path import choose_extract_path
from s3rb_tui.engine.ops.backup import run_backup


def describe_dry_run(results) -> str:
    lines = []
    for r in results:
        d = r.details
        if r.status != JobStatus.DRY_RUN:
            continue
        after = d.get("after", {})
        scan = d.get("initial_scan")
        if scan and scan.get("catch_up"):
            key = ", ".join(d.get("primary_key") or [])
            lines.append(f"{r.table}: catch-up in primary-key order ({key}) of the rows with {d.get('cursor_column')} after "
                         f"{display.data_timestamp(after.get('cursor'))} up to {display.data_timestamp(scan.get('upper_bound'))}"
                         + ("" if scan.get("after_key") is None else f", from after {key} {display.key(scan['after_key'])}"))
        elif scan:
            key = ", ".join(d.get("primary_key") or [])
            where = ("the beginning" if scan.get("after_key") is None else f"after {key} {display.key(scan['after_key'])}")
            lines.append(f"{r.table}: first full backup in primary-key order ({key}) from {where}, "
                         f"rows with {d.get('cursor_column')} up to {display.data_timestamp(scan.get('upper_bound'))} or NULL")
        else:
            where = "the beginning (full backup, NULL-cursor rows included)" if not after.get("cursor") and not after.get("key") and not after.get("nulls_done") else f"{d.get('cursor_column')} > {display.data_timestamp(after.get('cursor'))}" + (f" (after key {display.key(after.get('key'))})" if after.get("key") else "")
            lines.append(f"{r.table}: snapshot backup of the whole table" if d.get("mode") == "snapshot"
                         else f"{r.table}: {d.get('mode')} backup from {where} up to {display.data_timestamp(d.get('upper_bound'))}")
        if d.get("bound"):
            lines.append(f"  bound: {d['bound']['text']}")
        if d.get("version_overlap"):
            lines.append(f"  overlap: versions after {d['version_overlap']['from_cursor_after']} are read again; "
                         "rows already stored are dropped (BACKUP_VERSION_OVERLAP)")
        lines.append(f"  estimated rows: {display.count(d.get('estimated_rows'))}   estimated size: {report.size(d.get('estimated_bytes'))}   extraction: {d.get('extract_path')}"
                     + (f" on {d['read_connections']} connections" if d.get("read_connections", 1) > 1 else ""))
        if d.get("uncommitted_files_to_remove"):
            lines.append(f"  {d['uncommitted_files_to_remove']} uncommitted files of an interrupted run would be removed")
        for w in r.warnings:
            lines.append(f"  warning: {w}")
    return "\n".join(lines)


def estimate_line(results, rows_per_s: float = 20000.0) -> str:
    rows = sum(r.details.get("estimated_rows") or 0 for r in results)
    return f"estimate: {rows:,} rows, about {max(rows / rows_per_s, 0.1):.0f} s at {rows_per_s:,.0f} rows/s"


def run(args, app) -> int:
    tables = app.tables()  # names checked before anything connects; globs and --all list the source
    app.require_valid_settings()
    ws = app.workspace
    engine = args.extract_engine or app.settings.str("EXTRACT_ENGINE")
    choose_extract_path(app.settings, engine)  # an impossible choice is bad usage (exit 2), before any work
    ctx = app.ctx("backup")
    started = time.monotonic()
    if args.estimate and not args.dry_run:
        preview = run_backup(ws, tables, ctx, strategy=args.strategy, batch_size=args.batch_size, limit=args.limit, dry_run=True, extract_engine=engine)
        app.out(describe_dry_run(preview))
        app.out(estimate_line(preview))
    with app.tracked_run(ctx, "backup", tables) as tracked:
        results = tracked.results = run_backup(
            ws, tables, ctx,
            strategy=args.strategy, batch_size=args.batch_size, limit=args.limit,
            max_workers=args.max_workers, dry_run=args.dry_run, extract_engine=engine,
        )
    seconds = time.monotonic() - started
    if app.json:
        app.print_json(report.job_json("backup", results, seconds, strategy=args.strategy, dry_run=args.dry_run, run_id=tracked.run_id))
    elif args.dry_run:
        app.out(describe_dry_run(results))
        if args.estimate:
            app.out(estimate_line(results))
        failed = [r for r in results if not r.ok]
        if failed:
            app.out(report.job_summary("Dry run", failed, seconds))
    else:
        app.out(report.job_summary(f"Backup ({args.strategy})", results, seconds))
    return 0 if all(r.ok for r in results) else 1
