"""``history [RUN_ID]``: the run records of every run, from every host (runs/ in the store).

Newest first, one line per run; ``RUN_ID`` shows one run in full with each table's error, hint
and last log lines; ``--json`` prints the run documents (an array, or the one run).
"""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.wiring.catalog import check_table_args
from s3rb_tui.engine.core.durations import parse_duration
from s3rb_tui.engine.history.records import RunRecord, list_records, read_record, utcnow

MARK = {"failed": "FAILED", "abandoned": "ABANDONED", "cancelled": "cancelled", "running": "running", "success": "ok"}


def table_patterns(names: list[str], default_schema: str | None) -> list[str]:
    """-t names and globs as ``schema.table`` patterns (unscoped: DB_DATABASE); checked like every -t."""
    check_table_args(names, default_schema)
    return [n if "." in n or not default_schema else f"{default_schema}.{n}" for n in names]


def summary_row(rec: RunRecord) -> tuple:
    failed = len(rec.failed_tables)
    return (display.moment(rec.started_at), rec.where, rec.command, MARK.get(rec.status, rec.status),
            f"{len(rec.ok_tables)}/{failed}", display.count(rec.rows), display.duration(rec.duration_seconds), rec.run_id)


HEADERS = ("started", "where", "command", "status", "ok/failed", "rows", "duration", "run id")


def render_list(records: list[RunRecord]) -> list[str]:
    if not records:
        return ["no runs recorded (that match)"]
    lines = [report.table([summary_row(r) for r in records], HEADERS)]
    for r in records:
        if r.status in ("failed", "abandoned") and r.first_error:
            lines.append(f"  {r.run_id}: {r.first_error}")
        elif r.status == "abandoned":
            lines.append(f"  {r.run_id}: no heartbeat since {display.moment(r.doc.get('heartbeat_at'))} (killed, or its host went away)")
    return lines


def _count(value) -> str:
    return display.MISSING if value is None else display.count(int(value))


def render_run(rec: RunRecord) -> list[str]:
    d = rec.doc
    options = " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in (d.get("options") or {}).items() if k != "tables")
    lines = [
        f"run {rec.run_id}: {rec.command} {MARK.get(rec.status, rec.status)}",
        f"  where: {rec.where} (user {d.get('user')}, pid {d.get('pid')})",
        f"  started: {display.moment(rec.started_at)}   finished: {display.moment(rec.finished_at)}   duration: {display.duration(rec.duration_seconds)}",
    ]
    if options:
        lines.append(f"  options: {options}")
    if rec.status in ("running", "abandoned"):
        lines.append(f"  last heartbeat: {display.moment(d.get('heartbeat_at'))}")
    if d.get("error"):
        lines.append(f"  error: {d['error']}" + (f" — hint: {d['hint']}" if d.get("hint") else ""))
    rows = [(t.get("table"), t.get("status"), _count(t.get("rows_extracted")), _count(t.get("rows_loaded")), t.get("files", 0),
             report.size(t.get("bytes")), " ".join(f"{k} {display.duration(v)}" for k, v in (t.get("seconds") or {}).items()) or display.MISSING)
            for t in rec.tables]
    if rows:
        lines.append(report.table(rows, ("table", "result", "extracted", "loaded", "files", "size", "time")))
    for t in rec.tables:
        diff = t.get("differences") or {}
        if any(diff.values()):
            lines.append(f"differences {t.get('table')}: {diff.get('missing_in_warehouse', 0):,} missing, "
                         f"{diff.get('extra_in_warehouse', 0):,} extra, {diff.get('different', 0):,} different in the warehouse")
        if t.get("error"):
            lines.append(f"error {t.get('table')}: {t['error']}")
            if t.get("hint"):
                lines.append(f"  hint: {t['hint']}")
        for line in t.get("log") or []:
            lines.append(f"  | {line}")
    for line in d.get("log") or []:
        lines.append(f"  | {line}")
    return lines


def run(args, app) -> int:
    app.require_valid_settings()
    store = app.workspace.store
    if args.run_id:
        rec = read_record(store, args.run_id)
        if app.json:
            app.print_json(rec.to_json())
        else:
            for line in render_run(rec):
                app.out(line)
        return 0
    patterns = table_patterns(args.tables or [], app.settings.str("DB_DATABASE") or None)
    since = utcnow() - parse_duration(args.since, "--since") if args.since else None
    records = list_records(store, since=since, tables=patterns, failed=args.failed, limit=args.limit)
    if app.json:
        app.print_json([r.to_json() for r in records])
    else:
        for line in render_list(records):
            app.out(line)
    return 0
