"""``rebuild -t T``: drop a warehouse table and load it again from the committed files in the store.

Planned first (files, rows and bytes to load; the warehouse and ledger rows it replaces), shown,
confirmed on a terminal (``--force`` for scripts; no terminal and no ``--force`` -> refused, exit 2),
``--dry-run`` shows the plan and changes nothing. Exit 1 when the load after the drop failed (the
next ``sync --redshift-only`` or another rebuild completes it). The run is recorded (``history``)
from the plan on; a dry run, a refusal and a "no" at the prompt leave no record.
"""

from __future__ import annotations

import time

from s3rb_tui.commands import report
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.ops.rebuild import RebuildPlan, plan_rebuild, run_rebuild


def describe(plan: RebuildPlan) -> list[str]:
    now = (f"{plan.warehouse_rows:,} rows now" if plan.exists else "missing from the warehouse")
    lines = [f"Plan: rebuild {plan.target.full_name} " + ("from a new full read of the source" if plan.resync else "from the store")
             + f" ({plan.table})",
             f"  drop:  {plan.target.full_name} ({now}) and its views; {plan.ledger_files:,} ledger row(s)"]
    if plan.resync:
        lines += [f"  read:  every row of {plan.table} again (the watermark is reset; the file history is kept)",
                  f"  load:  only the files of that read; the {plan.files:,} committed file(s) now in the store are recorded as superseded"]
    else:
        lines.append(f"  load:  {plan.files:,} committed file(s), {plan.rows:,} rows, {report.size(plan.bytes)}")
    if plan.manual_after:
        lines.append(f"  note:  the manual watermark loads only files written at or after {plan.manual_after} "
                     "(`watermark reset` first to rebuild from every committed file)")
    return lines


def run(args, app) -> int:
    if not args.tables or len(args.tables) != 1:
        raise UsageError("rebuild takes exactly one -t TABLE", "e.g. s3rb-tui --run rebuild -t settlement.partner_info --dry-run")
    table = app.workspace.table_ref(args.tables[0])
    app.require_valid_settings()
    ws = app.workspace
    ctx = app.ctx("rebuild")
    with app.tracked_run(ctx, "rebuild", [table]) as tracked:  # recorded from the plan on (history)
        plan = plan_rebuild(ws, table, resync=args.resync)
        doc = {"command": "rebuild", "dry_run": bool(args.dry_run), "plan": plan.describe()}
        for line in describe(plan):
            app.out(line)
        if args.dry_run:
            app.out("dry run: nothing changed")
            if app.json:
                app.print_json(doc)
            return 0
        if not app.approve(f"rebuild would drop {plan.target.full_name}", f"Drop {plan.target.full_name} and load it again from {plan.files:,} file(s)?", args.force):
            tracked.decline()
            app.out("not confirmed; nothing changed")
            return 1
        started = time.monotonic()
        result = run_rebuild(ws, plan, ctx)
        tracked.results = [result]
    if app.json:
        app.print_json({**doc, **report.job_json("rebuild", [result], time.monotonic() - started, run_id=tracked.run_id)})
    else:
        app.out(f"rebuild of {plan.target.full_name}: {result.status}, {result.rows:,} rows from {result.files:,} file(s)"
                + (f" — {result.error}" + (f" ({result.hint})" if result.hint else "") if result.error else ""))
        for w in result.warnings:
            app.out(f"  warning: {w}")
    return 0 if result.ok else 1
