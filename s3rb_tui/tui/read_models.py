"""Read models for the screens: what a background worker reads from the engine, shaped for display.

Everything here runs in thread workers and only calls engine APIs; it holds no pipeline logic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from s3rb_tui.display import count
from s3rb_tui.engine.core.table_names import TableRef


@dataclass(frozen=True)
class HealthCheck:
    name: str
    ok: bool | None  # None: not configured / not applicable
    detail: str = ""
    latency_ms: float | None = None
    hint: str | None = None


@dataclass(frozen=True)
class TableState:
    table: str
    last_data_timestamp: Any = None
    last_run_result: str | None = None
    mysql_status: str | None = None
    redshift_status: str | None = None
    session_extracted: int | None = None
    session_loaded: int | None = None
    cumulative_extracted: int | None = None
    cumulative_loaded: int | None = None
    waiting_rows: int | None = None
    waiting_files: int | None = None
    lag_seconds: float | None = None
    future_cursor_rows: int | None = None  # rows the latest run left out: cursor later than the clock
    null_cursor_rows: int | None = None  # rows with a NULL cursor, which only a first full backup takes
    cursor_warnings: tuple[str, ...] = ()
    #: the table's newest run record: (where, started_at, status), e.g. ("cron@etl-2", "...", "failed")
    last_run: tuple[str, str, str] | None = None

    @property
    def cursor_notes(self) -> list[str]:
        return cursor_census_lines(self.future_cursor_rows, self.null_cursor_rows, self.cursor_warnings)


def cursor_census_lines(future_rows: int | None, null_rows: int | None, warnings: Iterable[str]) -> list[str]:
    """What a table's latest run counted that no watermark can see (engine/cursor_census.py), in
    the operator's words: the counts first, then the engine's warnings, which say what to do.
    Empty when there is nothing. Dashboard (under the list) and Tables (with the preflight) show it."""
    counted = []
    if future_rows:
        counted.append(f"{count(future_rows)} row(s) with a cursor later than the source's clock (left out until it passes them)")
    if null_rows:
        counted.append(f"{count(null_rows)} row(s) with a NULL cursor (only a full backup takes them)")
    lines = [f"latest run: {', '.join(counted)}"] if counted else []
    return lines + list(warnings)


def configured_tables(ws) -> list[str]:
    """Tables with a watermark, plus those named in s3rb.toml, sorted."""
    names = {wm.table for wm in ws.watermarks.list()}
    names.update(ws.table_configs.keys())
    return sorted(names)


@dataclass(frozen=True)
class DashboardData:
    checks: list[HealthCheck]
    tables: list[TableState]
    note: str
    #: why the table rows could not be read (the store is down...): the screen keeps the rows it
    #: had and marks them stale instead of showing an empty or made-up state
    tables_error: str | None = None


def read_dashboard(ws) -> DashboardData:
    """Health checks and per-table states from the engine's status checks (engine/ops/health.py).

    The checks come first and never raise, so a store that cannot be read is a failed check on
    screen (not a stale "ok"), and the table rows say they could not be read."""
    from s3rb_tui.engine.ops.health import check_all

    report = check_all(ws)
    checks = []
    idle_tunnels = [c for c in report.checks if c.name.startswith("tunnel:") and c.ok is None and not c.error]
    if idle_tunnels:
        checks.append(HealthCheck("tunnels", None, "no bastion configured"))
    for c in report.checks:
        if c in idle_tunnels:
            continue
        detail = c.error if c.ok is False else " · ".join(x for x in (c.target, c.version) if x)
        checks.append(HealthCheck(c.name, c.ok, detail or "", c.latency_ms, c.hint))
    store = next((c for c in report.checks if c.name == "store"), None)
    if store is not None and store.ok is False:
        return DashboardData(checks, [], "", f"the store could not be read: {store.error}")
    try:
        names = set(configured_tables(ws))
    except Exception as e:
        from s3rb_tui.tui.workers import describe_error

        return DashboardData(checks, [], "", f"the watermarks could not be listed: {describe_error(e)[0]}")
    tables: dict[str, TableState] = {}
    for t in report.tables:
        if t.error and t.table == "(all)":
            return DashboardData(checks, [], "", f"the tables could not be listed: {t.error}")
        session, cumulative = t.session or {}, t.cumulative or {}
        tables[t.table] = TableState(
            table=t.table,
            last_data_timestamp=t.last_data_timestamp,
            last_run_result=("error: " + t.error) if t.error else t.last_run_result,
            mysql_status=t.mysql_status,
            redshift_status=t.redshift_status,
            session_extracted=session.get("extracted"),
            session_loaded=session.get("loaded"),
            cumulative_extracted=cumulative.get("extracted"),
            cumulative_loaded=cumulative.get("loaded"),
            waiting_rows=t.rows_waiting,
            waiting_files=t.files_waiting,
            lag_seconds=t.lag_seconds,
            future_cursor_rows=t.future_cursor_rows,
            null_cursor_rows=t.null_cursor_rows,
            cursor_warnings=tuple(t.cursor_warnings),
        )
    for name in names:
        tables.setdefault(name, TableState(table=name))
    runs = _last_runs(ws, list(tables))
    return DashboardData(checks, [replace(tables[k], last_run=runs.get(k)) for k in sorted(tables)], "")


def _last_runs(ws, names: list[str]) -> dict[str, tuple[str, str, str]]:
    """Each table's newest run record (how, where, when, result); none when they cannot be read."""
    from s3rb_tui.engine.history.records import last_run_of_tables

    try:
        found = last_run_of_tables(ws.store, names)
    except Exception:  # the run records are extra: the watermark's result is still shown
        return {}
    out = {}
    for name, rec in found.items():
        entry = rec.table(name) or {}
        status = rec.status if rec.status in ("running", "abandoned") else str(entry.get("status") or rec.status)
        out[name] = (rec.where, str(rec.doc.get("started_at") or ""), status)
    return out


def table_ref(ws, name: str) -> TableRef:
    return ws.table_ref(name)
