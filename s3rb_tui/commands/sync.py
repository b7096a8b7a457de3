"""``sync``: MySQL -> S3 -> warehouse for the given tables (``--backup-only``, ``--redshift-only``)."""

from __future__ import annotations

import time

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.engine.wiring.extract_path import choose_extract_path
from s3rb_tui.engine.ops.sync import run_sync


def _rows(results) -> list[tuple]:
    rows = []
    for r in results:
        b = r.details.get("backup") or {}
        l = r.details.get("load") or {}
        rows.append((
            r.table, r.status,
            f"{b['rows']:,}" if b else "-",
            f"{l['rows']:,}" if l else "-",
            l.get("files", "-") if l else "-",
            (l.get("details") or {}).get("mode", "-") if l else "-",
            display.duration(r.seconds),
            display.rate(r.rows_per_s),
        ))
    return rows


def summary(title: str, results, seconds: float) -> str:
    ok = sum(1 for r in results if r.ok)
    out = [f"{title} finished in {display.duration(seconds)}: {ok} table(s) ok, {len(results) - ok} failed",
           report.table(_rows(results), ("table", "result", "extracted", "loaded", "files loaded", "load mode", "time", "rate"))]
    for r in results:
        l = r.details.get("load") or {}
        d = l.get("details") or {}
        if r.status == JobStatus.DRY_RUN and l:
            out.append(f"  {r.table}: would load {d.get('pending_files', 0)} file(s), {d.get('pending_rows', 0):,} rows into {d.get('target')} ({d.get('mode')})")
        for change in d.get("schema_changes") or []:
            out.append(f"  {r.table}: {change}")
        for w in r.warnings:
            out.append(f"  warning {r.table}: {w}")
        if r.error:
            out.append(f"  error {r.table}: {r.error}" + (f" — {r.hint}" if r.hint else ""))
    return "\n".join(out)


def run(args, app) -> int:
    tables = app.tables()  # names checked before anything connects; globs and --all list the source
    app.require_valid_settings()
    ws = app.workspace
    engine = args.extract_engine or app.settings.str("EXTRACT_ENGINE")
    choose_extract_path(app.settings, engine)  # an impossible choice is bad usage (exit 2), before any work
    ctx = app.ctx("sync")
    started = time.monotonic()
    with app.tracked_run(ctx, "sync", tables) as tracked:
        results = tracked.results = run_sync(
            ws, tables, ctx,
            strategy=args.strategy, backup_only=args.backup_only, load_only=args.redshift_only,
            limit=args.limit, verify=args.verify_data, dry_run=args.dry_run, max_workers=args.max_workers,
            batch_size=args.batch_size, extract_engine=engine,
        )
    seconds = time.monotonic() - started
    if app.json:
        app.print_json(report.job_json("sync", results, seconds, strategy=args.strategy, dry_run=args.dry_run, run_id=tracked.run_id,
                                       backup_only=args.backup_only, redshift_only=args.redshift_only, verify_data=args.verify_data))
    else:
        what = "Sync" + (" (backup only)" if args.backup_only else " (warehouse only)" if args.redshift_only else "")
        app.out(summary(("Dry run of " if args.dry_run else "") + what, results, seconds))
    return 0 if all(r.ok for r in results) else 1
