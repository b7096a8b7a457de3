"""``repair``: verify, show the plan (re-extract N keys, delete M warehouse rows), ask, then write a
repair batch and load it through the ledger (``engine/ops/repair.py``). The run is recorded
(``history``) from the verify on; a dry run, a refusal and a "no" at the prompt leave no record."""

from __future__ import annotations

from dataclasses import replace

from s3rb_tui.commands.verify import options_from, render
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.ops.repair import apply_repair, check_delete_guard, plan_repair
from s3rb_tui.engine.ops.verify_table import verdict_result


def run(args, app) -> int:
    tables = app.tables()
    if len(tables) != 1:
        raise UsageError("repair takes exactly one table", "pass one -t schema.table")
    if not 0 <= args.max_delete_ratio <= 1:
        raise UsageError(f"--max-delete-ratio {args.max_delete_ratio:g} is not between 0 and 1", "e.g. --max-delete-ratio 0.01 (1%)")
    app.require_valid_settings()
    ref = tables[0]
    ctx = app.ctx("repair")
    with app.tracked_run(ctx, "repair", [ref]) as tracked:  # recorded from the verify on (history)
        plan = plan_repair(app.workspace, ref, options_from(args, repair=True))
        doc = {"plan": plan.to_json(), "dry_run": bool(args.dry_run), "verify": plan.verdict.to_json()}
        app.out(render(plan.verdict))
        if not plan.reextract and not plan.deletes:
            tracked.results = [verdict_result(plan.verdict, ref.full_name)]
            app.out(f"\n{ref}: nothing to repair")
            if app.json:
                app.print_json({**doc, "repaired": False})
            return 0
        app.out(f"\nPlan: re-extract {len(plan.reextract):,} key(s) from the source and delete {len(plan.deletes):,} warehouse row(s) "
                f"({plan.delete_ratio:.2%} of {plan.verdict.warehouse_rows:,}), as one repair batch "
                + ("appended (the table keeps its history; deleted keys recorded in <table>_deleted, hidden from <table>_latest)"
                   if plan.verdict.mode == "append" else "loaded by merge"))
        check_delete_guard(plan, args.max_delete_ratio, args.force, args.allow_mass_delete)
        if args.dry_run:
            app.out("dry run: nothing changed")
            if app.json:
                app.print_json({**doc, "repaired": False})
            return 0
        if not app.approve(f"repair would change {ref} in the warehouse", f"Repair {ref}?", args.force):
            tracked.decline()
            app.out("not confirmed; nothing changed")
            return 1
        result = apply_repair(app.workspace, plan, ctx)
        # the record's entry: the rows loaded, and the differences the repair was planned on
        tracked.results = [replace(result, details={**result.details, "verify": plan.verdict.to_json()})]
    if app.json:
        app.print_json({**doc, "repaired": result.ok, "load": result.to_json(), "run_id": tracked.run_id})
    else:
        app.out(f"{ref}: repair {'loaded' if result.ok else 'FAILED'}: {result.rows:,} row(s) in {result.files} file(s)"
                + (f" ({result.error})" if result.error else ""))
    return 0 if result.ok else 1
