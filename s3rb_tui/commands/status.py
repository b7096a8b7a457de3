"""``status``: source (through its tunnel), store, warehouse and tunnels — reachable, latency,
version, the exact failure with a hint — and where each table stands. Exit 1 if any check fails."""

from __future__ import annotations

from s3rb_tui import display
from s3rb_tui.commands import report
from s3rb_tui.engine.core.durations import parse_duration
from s3rb_tui.engine.ops.health import StatusReport, check_all

MARK = {True: "OK", False: "FAILED", None: "-"}


def _counts(c: dict) -> str:
    return f"{c.get('extracted', 0):,} / {c.get('loaded', 0):,}" if c else "-"


def lagging(rep: StatusReport, max_lag_seconds: float | None) -> list:
    """Tables whose data is older than ``--max-lag`` (a table with no data yet has no lag)."""
    if max_lag_seconds is None:
        return []
    return [t for t in rep.tables if not t.error and t.lag_seconds is not None and t.lag_seconds > max_lag_seconds]


def render(rep: StatusReport, late: list | None = None, max_lag: str | None = None) -> list[str]:
    rows = [(c.name, MARK[c.ok], c.target, "-" if c.latency_ms is None else f"{c.latency_ms:.1f} ms", c.version or "-")
            for c in rep.checks]
    lines = [report.table(rows, ("check", "result", "where", "latency", "version"))]
    for c in rep.failures:
        lines.append(f"FAILED {c.name}: {c.error}" + (f" — hint: {c.hint}" if c.hint else ""))
    for c in rep.checks:
        lines.extend(f"note {c.name}: {n}" for n in c.notes)
    if rep.tables:
        lines.append("")
        trows = []
        for t in rep.tables:
            if t.error:
                trows.append((t.table, "ERROR", "-", "-", "-", "-", "-", "-", "-", "-"))
                continue
            trows.append((
                t.table,
                t.last_run_result or t.mysql_status or "-",
                display.moment(t.last_run_at),
                display.data_timestamp(t.last_data_timestamp),
                display.lag(t.lag_seconds),
                _counts(t.session),
                _counts(t.cumulative),
                f"{t.files:,}",
                report.size(t.bytes),
                "-" if t.rows_waiting is None else f"{t.rows_waiting:,} ({t.files_waiting:,} files)",
            ))
        lines.append(report.table(trows, ("table", "last run", "when", "last data", "lag",
                                          "session ext/loaded", "cumulative ext/loaded", "files", "size", "waiting to load")))
        for t in rep.tables:
            if t.error:
                lines.append(f"ERROR {t.table}: {t.error}")
            elif t.last_error:
                lines.append(f"  {t.table}: last error: {t.last_error}")
            for w in t.cursor_warnings:
                lines.append(f"  {t.table}: warning: {w}")
    lines.append("")
    for t in rep.failed_tables:
        lines.append(f"FAILED {t.table}: its last run failed" + (" (last error above)" if t.last_error else ""))
    for t in late or []:
        lines.append(f"FAILED {t.table}: its data is {display.lag(t.lag_seconds)} old, more than --max-lag {max_lag}")
    reasons = [c.name for c in rep.failures] + [f"table {t.table}" for t in rep.tables if t.error] + \
              [f"last run of {t.table}" for t in rep.failed_tables] + [f"lag of {t.table}" for t in late or []]
    lines.append("status: OK" if not reasons else f"status: FAILED ({', '.join(reasons)})")
    return lines


def run(args, app) -> int:
    max_lag = parse_duration(args.max_lag, "--max-lag").total_seconds() if args.max_lag else None
    tables = app.tables(store_fallback=True) or None
    app.require_valid_settings()
    rep = check_all(app.workspace, tables)
    late = lagging(rep, max_lag)
    for c in rep.failures:
        app.log("status check failed", level="error", check=c.name, error=c.error, hint=c.hint)
    for t in late:
        app.log("table lags behind", level="error", table=t.table, lag_seconds=t.lag_seconds, max_lag_seconds=max_lag)
    if app.json:
        doc = rep.to_json()
        if max_lag is not None:
            doc.update(ok=rep.ok and not late, max_lag_seconds=max_lag, lagging_tables=[t.table for t in late])
        app.print_json(doc)
    else:
        for line in render(rep, late, args.max_lag):
            app.out(line)
    return 0 if rep.ok and not late else 1
