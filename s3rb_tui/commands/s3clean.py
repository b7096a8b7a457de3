"""``s3clean list | clean | clean-all``: inventory and guarded cleanup of tables' data files.

Every delete is planned first (files, bytes, loaded/unloaded), shown, confirmed on a terminal
(``--force`` for scripts; no terminal and no ``--force`` -> refused, exit 2; ``clean-all`` asks
twice), then exactly the planned keys are deleted. A table another run holds locked keeps its
files and is named before the question. Exit 1 when any key could not be deleted or a table's
files were kept because it was locked.
"""

from __future__ import annotations

import datetime as dt

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.core.events import TableResult
from s3rb_tui.engine.ops.clean import CleanPlan, execute_clean, fill_result, plan_clean, validate_pattern
from s3rb_tui.engine.state.ledger import LoadedKeys, summarize, tables_in_store
from s3rb_tui.engine.core.durations import format_duration, parse_duration
from s3rb_tui.engine.core.errors import JobError, UsageError
from s3rb_tui.engine.stores.layout import table_prefix

SHOW_KEYS = 5


def _when(moment: dt.datetime | None) -> str:
    return display.moment(moment)


def _loaded_reader(loaded: LoadedKeys, include_unloaded: bool, app):
    """Loaded keys per table; with --include-unloaded an unreadable ledger only costs the counts."""

    def read(table):
        try:
            return loaded.for_table(table)
        except JobError as e:
            if not include_unloaded:
                raise
            app.log("load status unknown; --include-unloaded given, continuing", level="warning", table=str(table), error=str(e))
            return None

    return read


def describe_plan(plan: CleanPlan, older_than: dt.timedelta | None) -> list[str]:
    what = []
    if older_than is not None:
        what.append(f"older than {format_duration(older_than)} (last modified before {display.moment(plan.criteria['cutoff'])})")
    if plan.criteria.get("pattern"):
        what.append(f"matching {plan.criteria['pattern']!r}")
    lines = [f"{plan.table}: {len(plan.files):,} file(s), {report.size(plan.bytes)} to delete under {plan.prefix}"
             + (f" — {', '.join(what)}" if what else " — every .parquet file of the table")]
    if plan.status_known:
        lines.append(f"  loaded into the warehouse: {plan.loaded:,}; not yet loaded: {plan.unloaded:,} in the plan"
                     + (f", {plan.skipped_unloaded:,} kept ({report.size(plan.skipped_unloaded_bytes)}; --include-unloaded deletes them too)"
                        if plan.skipped_unloaded else ""))
    else:
        lines.append("  load status: no warehouse in use for this table (files are not checked against a load ledger)")
    if plan.not_matching:
        lines.append(f"  {plan.not_matching:,} other file(s) do not match and are kept")
    for held in plan.locked.values():
        lines.append(f"  kept: {held.files:,} file(s) ({report.size(held.bytes)}): the table is locked by {held.holder}; run again when it has finished")
    for key in plan.keys[:SHOW_KEYS]:
        lines.append(f"    {key}")
    if len(plan.files) > SHOW_KEYS:
        lines.append(f"    … and {len(plan.files) - SHOW_KEYS:,} more")
    return lines


def _list(app, tables, loaded: LoadedKeys) -> int:
    ws = app.workspace
    tables = tables or tables_in_store(ws.store, ws.incremental_path)
    summaries = []
    for t in tables:
        prefix = table_prefix(ws.incremental_path, t)
        summaries.append(summarize(prefix, t.full_name, ws.store.list(prefix), loaded.for_table(t)))
    if app.json:
        app.print_json({"command": "s3clean list", "store": ws.store.url, "tables": [s.to_json() for s in summaries]})
        return 0
    if not summaries:
        app.out(f"no data files under {ws.incremental_path} in {ws.store.url}")
        return 0
    rows = [(s.table, f"{s.files:,}", report.size(s.bytes), _when(s.oldest), _when(s.newest),
             "-" if s.loaded is None else f"{s.loaded:,}", "-" if s.unloaded is None else f"{s.unloaded:,}")
            for s in summaries]
    app.out(report.table(rows, ("table", "files", "size", "oldest", "newest", "loaded", "not loaded")))
    for s in summaries:
        if s.by_day:
            days = list(s.by_day.items())
            app.out(f"{s.table}: {len(days)} day(s) covered, {days[0][0]} .. {days[-1][0]}")
            for day, c in days[-14:]:
                app.out(f"  {day}  {c['files']:>6,} file(s)  {report.size(c['bytes'])}")
            if len(days) > 14:
                app.out(f"  (older days: {len(days) - 14}; --json lists every day)")
    return 0


def _confirm(app, op: str, plans: list[CleanPlan], force: bool) -> bool:
    total = sum(len(p.files) for p in plans)
    size = report.size(sum(p.bytes for p in plans))
    if not app.approve(f"s3clean {op} would delete {total:,} file(s)", f"Delete {total:,} file(s) ({size}) from {len(plans)} table(s)?", force,
                       nothing="nothing deleted"):
        return False
    if force:
        return True
    if op == "clean-all":
        return app.confirm(f"This deletes files of EVERY listed table ({len(plans)}). Really delete {total:,} file(s)?")
    return True


def run(args, app) -> int:
    op = args.operation
    older_than = parse_duration(args.older_than) if args.older_than else None
    pattern = validate_pattern(args.pattern)
    tables = app.tables(store_fallback=True)
    if op == "clean" and len(tables) != 1:
        raise UsageError("s3clean clean needs exactly one -t TABLE", "name the table with -t schema.table (clean-all cleans every table)")
    if op == "clean-all" and older_than is None:
        raise UsageError("s3clean clean-all needs --older-than", "e.g. --older-than 30d")
    if op == "list" and (older_than or pattern or args.include_unloaded):
        raise UsageError("--older-than, --pattern and --include-unloaded apply to clean and clean-all", "drop them for list")
    app.require_valid_settings()
    ws = app.workspace
    with LoadedKeys(ws) as loaded:
        if op == "list":
            return _list(app, tables, loaded)
        targets = tables or tables_in_store(ws.store, ws.incremental_path)
        read = _loaded_reader(loaded, args.include_unloaded, app)
        plans = [
            plan_clean(ws.store, ws.incremental_path, t, older_than=older_than, pattern=pattern,
                       include_unloaded=args.include_unloaded, loaded_keys=read(t))
            for t in targets
        ]
    planned = [p for p in plans if not p.empty]
    doc = {"command": f"s3clean {op}", "store": ws.store.url, "dry_run": bool(args.dry_run),
           "plans": [p.to_json() for p in plans], "results": []}
    for p in plans:
        for line in describe_plan(p, older_than):
            app.out(line)
    locked = [p.table for p in plans if p.locked]
    if not planned:
        app.out(f"nothing to delete now: {len(locked)} table(s) locked by another run" if locked else "nothing to delete")
        if app.json:
            app.print_json(doc)
        return 1 if locked and not args.dry_run else 0
    total_files = sum(len(p.files) for p in planned)
    total_bytes = sum(p.bytes for p in planned)
    if args.dry_run:
        app.out(f"dry run: {total_files:,} file(s), {report.size(total_bytes)} would be deleted; nothing deleted")
        if app.json:
            app.print_json(doc)
        return 0
    if not _confirm(app, op, planned, args.force):
        app.out("not confirmed; nothing deleted")
        return 1
    ctx = app.ctx(f"s3clean {op}")
    with app.tracked_run(ctx, f"s3clean {op}", [p.table or p.prefix for p in planned]) as tracked:
        tracked.results = []
        results = []
        for p in planned:
            results.append(execute_clean(ws.store, p, ctx))
            tracked.results.append(fill_result(TableResult(table=p.table or p.prefix), results[-1]))
    freed = sum(r.bytes_freed for r in results)
    deleted = sum(r.deleted for r in results)
    errors = [e for r in results for e in r.errors]
    doc["results"] = [r.to_json() for r in results]
    doc.update(deleted=deleted, bytes_freed=freed, errors=len(errors), success=not errors, run_id=tracked.run_id)
    app.out(f"deleted {deleted:,} of {total_files:,} file(s), {report.size(freed)} freed")
    for e in errors[:20]:
        app.out(f"  could not delete {e.key}: {e.code} {e.message}")
    if len(errors) > 20:
        app.out(f"  … and {len(errors) - 20:,} more errors (see the log)")
    if locked:
        app.out(f"  kept the files of {len(locked)} locked table(s): {', '.join(str(t) for t in locked[:5])}" + (" …" if len(locked) > 5 else ""))
    if app.json:
        app.print_json(doc)
    return 1 if errors or locked else 0
