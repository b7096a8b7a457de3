"""Read models for the screens: what a background worker reads from the engine, shaped for display.

Everything here runs in thread workers and only calls engine APIs; it holds no pipeline logic.
"""

from __future__ import annotations

import dataclasses
import time
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
    last_extraction_time: str | None = None


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


def _check_from(name: str, d: dict[str, Any]) -> HealthCheck:
    ok = d.get("ok")
    if ok is None and "status" in d:
        ok = {"ok": True, "failed": False, "fail": False, "error": False}.get(str(d["status"]).lower())
    detail = d.get("error") or d.get("detail") or d.get("version") or d.get("description") or ""
    latency = d.get("latency_ms")
    if latency is None and d.get("latency_s") is not None:
        latency = float(d["latency_s"]) * 1000
    return HealthCheck(str(d.get("name") or name), ok, str(detail), latency, d.get("hint"))


def _table_from_watermark(wm) -> TableState:
    waiting = max(wm.cumulative.extracted - wm.cumulative.loaded, 0)
    return TableState(
        table=wm.table,
        last_data_timestamp=wm.last_data_timestamp,
        last_run_result=wm.last_run_result or (wm.mysql_status if wm.mysql_status not in ("never",) else None),
        mysql_status=wm.mysql_status,
        redshift_status=wm.redshift_status,
        session_extracted=wm.session.extracted,
        session_loaded=wm.session.loaded,
        cumulative_extracted=wm.cumulative.extracted,
        cumulative_loaded=wm.cumulative.loaded,
        waiting_rows=waiting,
        last_extraction_time=wm.last_extraction_time,
    )


def configured_tables(ws) -> list[str]:
    """Tables with a watermark, plus those named in s3rb.toml, sorted."""
    names = {wm.table for wm in ws.watermarks.list()}
    names.update(ws.table_configs.keys())
    return sorted(names)


def read_dashboard(ws) -> tuple[list[HealthCheck], list[TableState], str]:
    """(health checks, per-table states, a note) — the engine's status checks and watermarks."""
    checks: list[HealthCheck] = []
    note = ""
    tables: dict[str, TableState] = {}
    try:
        from s3rb_tui.engine.health import check_all
    except ImportError:
        check_all = None
    if check_all is not None:
        report = _as_dict(check_all(ws))
        for key in ("source", "store", "warehouse"):
            if key in report and report[key] is not None:
                checks.append(_check_from(key, _as_dict(report[key])))
        for item in report.get("checks", []) or []:
            checks.append(_check_from("check", _as_dict(item)))
        for t in report.get("tunnels", []) or []:
            checks.append(_check_from("tunnel", _as_dict(t)))
        for t in report.get("tables", []) or []:
            d = _as_dict(t)
            name = str(d.get("table"))
            session = d.get("session") or {}
            cumulative = d.get("cumulative") or {}
            tables[name] = TableState(
                table=name,
                last_data_timestamp=d.get("last_data_timestamp"),
                last_run_result=d.get("last_run_result"),
                mysql_status=d.get("mysql_status"),
                redshift_status=d.get("redshift_status"),
                session_extracted=session.get("extracted"),
                session_loaded=session.get("loaded"),
                cumulative_extracted=cumulative.get("extracted"),
                cumulative_loaded=cumulative.get("loaded"),
                waiting_rows=d.get("rows_waiting", d.get("rows_to_load")),
                last_extraction_time=d.get("last_extraction_time"),
            )
    else:
        started = time.monotonic()
        try:
            where = ws.store.check()
            checks.append(HealthCheck("store", True, where, (time.monotonic() - started) * 1000))
        except Exception as e:
            checks.append(HealthCheck("store", False, str(e)))
        note = "source and warehouse checks need engine.health"
    for wm in ws.watermarks.list():
        tables.setdefault(wm.table, _table_from_watermark(wm))
    for name in ws.table_configs:
        tables.setdefault(name, TableState(table=name))
    return checks, [tables[k] for k in sorted(tables)], note


def table_ref(ws, name: str) -> TableRef:
    return ws.table_ref(name)
