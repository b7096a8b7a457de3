"""``clean --bucket B --prefix P --days N [--confirm]``: the v1.2 retention command.

Deletes ``.parquet`` files under ``P`` last modified more than ``N`` days ago. Without
``--confirm`` it is a dry run; with it the plan is shown and confirmed on a terminal (``--force``
for scripts: without a terminal ``--confirm`` alone is refused, exit 2, as every state change is). The bucket root and the watermark area are refused. Files of a
table that is loaded into a warehouse are kept until they are loaded.
"""

from __future__ import annotations

from s3rb_tui.commands import report
from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.ops.clean import execute_clean, fill_result, plan_retention, validate_prefix
from s3rb_tui.engine.state.ledger import LoadedKeys
from s3rb_tui.engine.core.errors import UsageError


def run(args, app) -> int:
    prefix = validate_prefix(args.prefix)
    app.require_valid_settings()
    ws = app.workspace
    store = ws.store
    same_bucket = True
    if args.bucket and args.bucket != app.settings.str("S3_BUCKET_NAME"):
        if app.settings.store_is_local:
            raise UsageError("--bucket applies to S3 stores, but STORE_URL points at a local directory", "drop --bucket, or unset STORE_URL")
        from s3rb_tui.engine.stores import open_store

        store = open_store(app.settings.with_overrides(S3_BUCKET_NAME=args.bucket))
        same_bucket = False
    with LoadedKeys(ws) as loaded:
        plan = plan_retention(store, prefix, args.days, loaded_for=loaded.for_table if same_bucket else None)
    where = f"{store.url}/{plan.prefix}"
    head = f"{len(plan.files):,} file(s), {report.size(plan.bytes)} under {where} last modified more than {args.days} day(s) ago"
    doc = {"command": "clean", "store": store.url, "confirm": bool(args.confirm), "plan": plan.to_json()}
    app.out(head)
    if plan.skipped_unloaded:
        app.out(f"  kept: {plan.skipped_unloaded:,} old file(s) ({report.size(plan.skipped_unloaded_bytes)}) not yet loaded into the warehouse")
    for table, held in plan.locked.items():
        app.out(f"  kept: {held.files:,} old file(s) ({report.size(held.bytes)}) of {table}: it is locked by {held.holder}; run again when it has finished")
    for key in plan.keys[:5]:
        app.out(f"    {key}")
    if len(plan.files) > 5:
        app.out(f"    … and {len(plan.files) - 5:,} more")
    if not args.confirm or plan.empty:
        app.out("dry run: nothing deleted (add --confirm to delete)" if not args.confirm else "nothing to delete")
        if app.json:
            app.print_json(doc)
        return 1 if args.confirm and plan.locked else 0
    if not app.approve(f"clean would delete {len(plan.files):,} file(s) under {where}",
                       f"Delete {len(plan.files):,} file(s) ({report.size(plan.bytes)}) under {where}?", args.force,
                       preview="leave out --confirm to preview", nothing="nothing deleted"):
        app.out("not confirmed; nothing deleted")
        return 1
    ctx = app.ctx("clean")
    with app.tracked_run(ctx, "clean", [plan.prefix]) as tracked:  # its one entry is the prefix it cleaned
        result = execute_clean(store, plan, ctx)
        tracked.results = [fill_result(TableResult(table=plan.prefix), result)]
    doc["result"] = result.to_json()
    doc["run_id"] = tracked.run_id
    app.out(f"deleted {result.deleted:,} of {len(plan.files):,} file(s), {report.size(result.bytes_freed)} freed")
    for e in result.errors[:20]:
        app.out(f"  could not delete {e.key}: {e.code} {e.message}")
    if app.json:
        app.print_json(doc)
    return 0 if result.ok and not plan.locked else 1
