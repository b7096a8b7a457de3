"""Read models for the screens: what a background worker reads from the engine, shaped for display.

Everything here runs in thread workers and only calls engine APIs; it holds no pipeline logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s3rb_tui.engine.tables import TableRef


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


def configured_tables(ws) -> list[str]:
    """Tables with a watermark, plus those named in s3rb.toml, sorted."""
    names = {wm.table for wm in ws.watermarks.list()}
    names.update(ws.table_configs.keys())
    return sorted(names)


def read_dashboard(ws) -> tuple[list[HealthCheck], list[TableState], str]:
    """(health checks, per-table states, a note) from the engine's status checks (engine/health.py)."""
    from s3rb_tui.engine.health import check_all

    names = set(configured_tables(ws))
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
    tables: dict[str, TableState] = {}
    note = ""
    for t in report.tables:
        if t.error and t.table == "(all)":
            note = f"tables could not be listed: {t.error}"
            continue
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
    return checks, [tables[k] for k in sorted(tables)], note


def table_ref(ws, name: str) -> TableRef:
    return ws.table_ref(name)
