"""Repair from the console (R on Tables, Watermarks, and on a verify job on Jobs): the plan first, as
a job (``engine/ops/repair.plan_repair``: a verify of every key, its segments as progress on Jobs),
then the guarded dialog (``dialogs.ConfirmDialog``: focus on Cancel, the table name typed above
``TYPE_TO_CONFIRM_ABOVE`` changes), then the repair as a job (``apply_repair``: a repair batch loaded
by merge through the ledger), and a verify of the table again, whose verdict ends the job's log.

The ratio guard is the engine's (``check_delete_guard``, with the table's ``max_delete_ratio`` from
s3rb.toml): when it refuses, the dialog says so in one line, and confirming then needs the table
name typed — the console's ``--force --allow-mass-delete``. Nothing changes before Confirm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.tui.screens.dialogs import TYPE_TO_CONFIRM_ABOVE, ConfirmDialog

if TYPE_CHECKING:
    from s3rb_tui.engine.ops.repair import RepairPlan

KEYS_SHOWN = 5


def guard_verdict(plan: "RepairPlan", max_ratio: float) -> tuple[bool, str]:
    """(allowed, the line the dialog shows) from the engine's ratio guard."""
    from s3rb_tui.engine.core.errors import UsageError
    from s3rb_tui.engine.ops.repair import check_delete_guard

    share = f"{len(plan.deletes):,} of {plan.verdict.warehouse_rows:,} warehouse rows ({plan.delete_ratio:.2%})"
    try:
        check_delete_guard(plan, max_ratio, False, False)
    except UsageError:
        return False, (f"Ratio guard: REFUSED — deletes {share}, more than max_delete_ratio {max_ratio:g}. A partial read of "
                       "the source looks exactly like a mass delete: check the source; type the table name to delete them anyway.")
    return True, f"Ratio guard: allowed — deletes {share}, within max_delete_ratio {max_ratio:g}."


def _keys(keys: list[list[Any]]) -> str:
    shown = "; ".join(", ".join(str(x) for x in k) for k in keys[:KEYS_SHOWN])
    return shown + (f" … and {len(keys) - KEYS_SHOWN:,} more" if len(keys) > KEYS_SHOWN else "")


def describe_plan(plan: "RepairPlan", guard_line: str) -> str:
    v = plan.verdict
    c = v.counts
    lines = [
        f"Verify: source {v.source_rows:,} rows, {v.relation} {v.warehouse_rows:,}; {c['missing_in_warehouse']:,} missing, "
        f"{c['extra_in_warehouse']:,} extra, {c['different']:,} different; not yet synced {v.not_yet_synced:,} (left alone).",
        "",
        f"Re-extract {len(plan.reextract):,} key(s) from the source" + (f": {_keys(plan.reextract)}" if plan.reextract else ""),
        f"Delete {len(plan.deletes):,} warehouse row(s)" + (f": {_keys(plan.deletes)}" if plan.deletes else ""),
    ]
    if v.different_columns:
        lines.append("Columns that differ: " + ", ".join(f"{col} ({n:,})" for col, n in v.different_columns.most_common()))
    lines += ["", guard_line, "",
              "One repair batch (the manual's layout), loaded by merge through the ledger; then verify again."]
    return "\n".join(lines)


def repair_dialog(plan: "RepairPlan", max_ratio: float) -> tuple[ConfirmDialog, bool]:
    """The guarded dialog for ``plan`` and whether confirming it overrides the ratio guard."""
    allowed, guard_line = guard_verdict(plan, max_ratio)
    name = plan.ref.full_name
    typed = not allowed or len(plan.reextract) + len(plan.deletes) > TYPE_TO_CONFIRM_ABOVE
    dialog = ConfirmDialog(f"Repair {name}?", describe_plan(plan, guard_line),
                           confirm_label="Repair" if allowed else "Delete anyway and repair",
                           type_to_confirm=name if typed else None)
    return dialog, not allowed


def start_repair(app, name: str):
    """The plan job; when it ends, the dialog; on Confirm, the repair job. The JobState, or None."""
    ws = app.workspace
    holder: dict[str, Any] = {}

    def plan_job(ctx):
        from s3rb_tui.engine.core.events import TableResult
        from s3rb_tui.engine.ops.repair import plan_repair
        from s3rb_tui.engine.ops.verify_table import verdict_lines

        def progress(p) -> None:
            ctx.progress(name, rows=p.rows_checked, files=p.segments_done, total=None, phase="verify",
                         segments_done=p.segments_done, segments_total=p.segments_total)

        ref = ws.table_ref(name)
        plan = plan_repair(ws, ref, progress=progress, cancel=ctx.cancel)
        for line in verdict_lines(plan.verdict):
            ctx.log(line, table=name, level="info" if plan.verdict.equal else "warning")
        holder["plan"], holder["max_ratio"] = plan, ws.table_config(ref).max_delete_ratio
        result = TableResult(table=name, status=JobStatus.SUCCESS, rows=plan.verdict.source_rows,
                             files=plan.verdict.segments, details={"plan": plan.to_json()})
        ctx.table_done(result)
        return [result]

    def planned(job) -> None:
        plan = holder.get("plan")
        if job.status != JobStatus.SUCCESS or plan is None:
            return  # failed or cancelled: the runner said why
        if not plan.reextract and not plan.deletes:
            app.notify(f"{name}: equal to the source, nothing to repair", title="repair")
            return
        dialog, overrides = repair_dialog(plan, holder["max_ratio"])
        app.push_screen(dialog, lambda yes: _confirmed(app, plan, overrides) if yes else app.notify(f"{name}: repair cancelled; nothing changed", title="repair"))

    return app.start_job("repair plan", f"repair plan {name}", [name], plan_job, on_end=planned)


def _confirmed(app, plan: "RepairPlan", overrides: bool):
    ws, name = app.workspace, plan.ref.full_name

    def repair_job(ctx):
        from s3rb_tui.engine.ops.repair import apply_repair, check_delete_guard
        from s3rb_tui.engine.ops.verify_table import verdict_lines, verify_table

        check_delete_guard(plan, ws.table_config(plan.ref).max_delete_ratio, True, overrides)
        result = apply_repair(ws, plan, ctx)
        if not result.ok:
            return [result]
        after = verify_table(ws, plan.ref, cancel=ctx.cancel)
        for line in verdict_lines(after):
            ctx.log("after the repair: " + line, table=name, level="info" if after.equal else "warning")
        result.details = {**result.details, "reverify": after.to_json()}
        if not after.equal:
            result.status, result.error = JobStatus.FAILED, "the warehouse still differs after the repair (see the log)"
            result.hint = "rows may have changed at the source meanwhile: press R again for a new plan"
        return [result]

    def ended(job) -> None:
        if job.status == JobStatus.SUCCESS:
            app.notify(f"{name}: repaired; verify again: equal", title="repair")

    if app.start_job("repair", f"repair {name}", [name], repair_job, on_end=ended) is not None:
        app.action_show("jobs")
