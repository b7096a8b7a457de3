"""``watermark-count set-count | validate-counts``: fix and cross-check row counts."""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.ops.counts import SourceCounts, ValidationReport, apply_set_count, plan_set_count, validate_table
from s3rb_tui.engine.core.errors import UsageError


_fmt = display.count


def render_validation(r: ValidationReport) -> str:
    src = r.source or SourceCounts()
    wh = r.warehouse
    rows = [
        ("watermark: extracted (cumulative)", _fmt(r.watermark.extracted)),
        ("watermark: loaded (cumulative)", _fmt(r.watermark.loaded)),
        (f"store: rows in {r.files.committed} committed file(s)", _fmt(r.files.rows)),
        (f"ledger: rows loaded from {r.ledger.files} file(s)", _fmt(r.ledger.rows)),
        (f"warehouse: rows in {r.target}", _fmt(wh.rows) if wh.exists else "(no table)"),
        ("warehouse: distinct keys", _fmt(wh.distinct_keys)),
        ("source: rows now", _fmt(src.rows) if src.error is None else f"unreachable: {src.error}"),
        ("source: rows up to the watermark", _fmt(src.rows_up_to_watermark)),
    ]
    out = [f"{r.table} (load mode {r.mode})", report.table(rows, ("count", "rows"))]
    for e in r.expected:
        out.append(f"  expected: {e}")
    for u in r.unexpected:
        out.append(f"  UNEXPECTED: {u}")
    out.append("  result: " + ("counts agree" if r.ok else f"{len(r.unexpected)} unexpected discrepancy(ies)"))
    return "\n".join(out)


def run(args, app) -> int:
    tables = app.tables(store_fallback=True)
    if args.operation == "set-count":
        if args.count is None:
            raise UsageError("set-count needs --count N", "e.g. watermark-count set-count -t schema.table --count 8500000 --mode absolute")
        if len(tables) != 1:
            raise UsageError("set-count takes exactly one table", "pass one -t schema.table")
        app.require_valid_settings()
        plan = plan_set_count(app.workspace, tables[0], args.count, args.mode)
        change = plan.change
        doc = {"table": change.table, "mode": change.mode, "count": change.count, "before": change.before,
               "after": change.after, "dry_run": bool(args.dry_run)}
        app.out(f"Plan: set-count {change.mode} {change.count:,} for {change.table} (both cumulative counts change)")
        app.out(report.table([
            ("extracted (cumulative)", _fmt(change.before["extracted"]), _fmt(change.after["extracted"])),
            ("loaded (cumulative)", _fmt(change.before["loaded"]), _fmt(change.after["loaded"])),
        ], ("count", "before", "after")))
        if args.dry_run:
            app.out("dry run: nothing changed")
            if app.json:
                app.print_json(doc)
            return 0
        if not app.approve(f"set-count would change the counts of {change.table}", f"Set both counts of {change.table}?", args.force):
            app.out("not confirmed; nothing changed")
            return 1
        apply_set_count(app.workspace, plan)
        if app.json:
            app.print_json(doc)
        else:
            app.out(f"{change.table}: counts set ({change.mode} {change.count:,})")
        return 0
    app.require_valid_settings()
    reports = [validate_table(app.workspace, t) for t in tables]
    bad = any(not r.ok for r in reports)
    if app.json:
        app.print_json({"ok": not bad, "tables": [r.to_json() for r in reports]})
    else:
        app.out("\n\n".join(render_validation(r) for r in reports))
    return 1 if bad else 0
