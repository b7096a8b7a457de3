"""``verify``: row-level proof that the warehouse holds what the source holds (``engine/ops/verify.py``).

Exit 0 when every table is equal, 1 when anything differs, 2 for bad input (nothing read). The
run is recorded (``history``): a table that differs is ``failed`` there, its counts by kind as
its error and the repair command as its hint, so ``history --failed`` and the alert show it."""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.ops.verify import TableVerdict, VerifyOptions
from s3rb_tui.engine.ops.verify_table import verdict_result, verify_table

_KINDS = (("missing_in_warehouse", "missing in the warehouse"), ("extra_in_warehouse", "extra in the warehouse (deleted at the source)"),
          ("different", "different"))


def options_from(args, repair: bool = False) -> VerifyOptions:
    if repair:
        return VerifyOptions()
    columns = None
    if args.columns:
        columns = tuple(c.strip() for c in args.columns.split(",") if c.strip())
    return VerifyOptions(keys_only=bool(args.keys_only), columns=columns, since=args.since, limit=args.limit)


def render(v: TableVerdict) -> str:
    rows = [
        ("source rows", display.count(v.source_rows)),
        (f"warehouse rows ({v.relation})", display.count(v.warehouse_rows)),
        ("missing in the warehouse", display.count(v.counts["missing_in_warehouse"])),
        ("extra in the warehouse (deleted at the source)", display.count(v.counts["extra_in_warehouse"])),
        ("different", display.count(v.counts["different"])),
        ("not yet synced (past the watermark)", display.count(v.not_yet_synced)),
        ("segments", display.count(v.segments)),
        ("seconds", f"{v.seconds:.1f}"),
    ]
    out = [f"{v.table} (load mode {v.mode})", report.table(rows, ("what", "rows"))]
    for kind, label in _KINDS:
        keys = getattr(v, kind)
        if keys:
            more = v.counts[kind] - len(keys)
            shown = "; ".join(", ".join(str(x) for x in k) for k in keys[:20])
            out.append(f"  {label}: {shown}" + (f" (and {more + len(keys) - min(len(keys), 20):,} more)" if v.counts[kind] > 20 else ""))
    if v.different_columns:
        out.append("  columns that differ: " + ", ".join(f"{c} ({n:,})" for c, n in v.different_columns.most_common()))
    for note in v.notes:
        out.append(f"  note: {note}")
    out.append("  result: " + ("equal" if v.equal else "DIFFERENT"))
    return "\n".join(out)


def run(args, app) -> int:
    tables = app.tables()
    app.require_valid_settings()
    options = options_from(args)
    verdicts: list[TableVerdict] = []
    with app.tracked_run(app.ctx("verify"), "verify", tables) as tracked:
        tracked.results = []
        for ref in tables:
            verdicts.append(verify_table(app.workspace, ref, options))
            tracked.results.append(verdict_result(verdicts[-1], ref.full_name))
    if app.json:
        app.print_json({"ok": all(v.equal for v in verdicts), "tables": [v.to_json() for v in verdicts]})
    else:
        app.out("\n\n".join(render(v) for v in verdicts))
    return 0 if all(v.equal for v in verdicts) else 1
