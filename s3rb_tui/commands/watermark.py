"""``watermark get|set|reset|list``: the manual's display, session and cumulative side by side."""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.core.errors import JobError, UsageError
from s3rb_tui.engine.ops.watermark_changes import apply_plan, plan_reset, plan_set
from s3rb_tui.engine.state.watermarks import Watermark

RULE = "━" * 57


def _n(v: int) -> str:
    return f"{v:,} rows"


def render(wm: Watermark) -> str:
    ts = display.data_timestamp(wm.last_data_timestamp) if wm.last_data_timestamp is not None else "None"
    lines = [
        f"📊 Watermark Status for {wm.table}:",
        RULE,
        f"{'Last Data Timestamp:':<25}{ts}",
        f"{'Last Key:':<25}{display.key(wm.last_key) if wm.last_key is not None else 'None'}",
        f"{'Last Extraction Time:':<25}{display.moment(wm.last_extraction_time) if wm.last_extraction_time else 'None'}",
        f"{'MySQL Status:':<25}{wm.mysql_status}",
        f"{'Redshift Status:':<25}{wm.redshift_status}",
        f"{'Backup Strategy:':<25}{wm.backup_strategy or 'None'}",
        f"{'Files Written / Loaded:':<25}{wm.files_written_total:,} / {wm.files_loaded_total:,}",
        "",
        "📈 Row Count Statistics:",
        f"{'':<20}{'Session (this run)':>22}{'Cumulative (all-time)':>25}",
        f"{'MySQL Extracted:':<20}{_n(wm.session.extracted):>22}{_n(wm.cumulative.extracted):>25}",
        f"{'Redshift Loaded:':<20}{_n(wm.session.loaded):>22}{_n(wm.cumulative.loaded):>25}",
    ]
    if wm.initial_scan:
        lines.insert(4, f"{wm.initial_scan_label:<25}{wm.initial_scan_text()}")
    if wm.last_error:
        lines.append(f"{'Last Error:':<25}{wm.last_error}")
    lines.append(RULE)
    return "\n".join(lines)


def _table(args, app):
    if not args.tables and not args.all_tables:
        raise UsageError(f"watermark {args.operation} needs -t TABLE", "e.g. -t settlement.settlement_claim_detail")
    tables = app.tables(store_fallback=True)
    if len(tables) > 1:
        shown = ", ".join(t.full_name for t in tables[:3]) + (", …" if len(tables) > 3 else "")
        raise UsageError(f"watermark {args.operation} takes one table, got {len(tables)} ({shown})", "name one table with -t schema.table")
    return tables[0]


def _show_plan(app, plan) -> None:
    d = plan.describe()
    cur = plan.current
    app.out(f"Plan: watermark {plan.operation} for {plan.table}")
    app.out(f"  current: last data timestamp {display.data_timestamp(cur.last_data_timestamp if cur else None)}, strategy {cur.backup_strategy if cur else None}, "
            f"cumulative extracted {cur.cumulative.extracted if cur else 0:,}")
    if plan.operation == "set":
        app.out(f"  new:     last data timestamp {display.data_timestamp(plan.timestamp)}, strategy manual_cli")
        if d["source_rows_after"] is not None:
            app.out(f"  source rows after it: {d['source_rows_after']:,}")
    else:
        app.out("  new:     no timestamp (full backup next), counts cleared, file history kept")
    app.out(f"  committed files{' written at or after it' if plan.operation == 'set' else ''}: {plan.files_after:,} ({report.size(plan.bytes_after)})")
    if plan.files_to_load is not None:
        app.out(f"  files a --redshift-only load would pick up: {plan.files_to_load:,}")
    for n in plan.notes:
        app.out(f"  note: {n}")
    for w in plan.warnings:
        app.out(f"  warning: {w}")


def run(args, app) -> int:
    op = args.operation
    if op in ("set",) and not args.timestamp:
        raise UsageError("watermark set needs --timestamp 'YYYY-MM-DD HH:MM:SS'")
    if op != "set" and args.timestamp:
        raise UsageError(f"--timestamp only goes with watermark set, not {op}")
    if op == "list":
        app.require_valid_settings()
        wms = sorted(app.workspace.watermarks.list(), key=lambda w: w.table)
        if app.json:
            app.print_json([w.summary() for w in wms])
            return 0
        if not wms:
            app.out("no watermarks yet (no table has been backed up)")
            return 0
        rows = [(w.table, display.data_timestamp(w.last_data_timestamp), w.mysql_status, w.redshift_status, w.backup_strategy,
                 f"{w.session.extracted:,}/{w.session.loaded:,}", f"{w.cumulative.extracted:,}/{w.cumulative.loaded:,}") for w in wms]
        app.out(report.table(rows, ("table", "last data timestamp", "mysql", "redshift", "strategy", "session ext/load", "cumulative ext/load")))
        return 0

    table = _table(args, app)
    app.require_valid_settings()
    ws = app.workspace
    if op == "get":
        wm = ws.watermarks.get(table)
        if wm is None:  # with --json the error is the JSON document (headless.main)
            raise JobError(f"no watermark for {table} yet (never backed up)", f"run `s3rb-tui --run backup -t {table}` or `watermark set`")
        if app.json:
            app.print_json(wm.summary())
        else:
            app.out(render(wm))
        return 0

    plan = plan_set(ws, table, args.timestamp) if op == "set" else plan_reset(ws, table)
    if app.json and args.dry_run:
        app.print_json(plan.describe())
        return 0
    _show_plan(app, plan)
    if args.dry_run:
        app.out("dry run: nothing changed")
        return 0
    if not app.approve(f"watermark {op} would change the watermark of {table}", f"Apply watermark {op} to {table}?", args.force):
        app.out("not confirmed; nothing changed")
        return 1
    new = apply_plan(ws, plan)
    app.log("watermark updated successfully", table=table.full_name, operation=op, new_watermark=new.last_data_timestamp, backup_strategy=new.backup_strategy)
    if app.json:
        app.print_json(new.summary())
    else:
        app.out(f"watermark {op} applied to {table}")
        app.out(render(new))
    return 0
