"""Status checks: is each part reachable, how fast, which version, and where each table stands.

``check_all(ws)`` returns plain dataclasses (the headless ``status`` command prints them; the
console's dashboard shows them). A check never raises: a failure is recorded with the exact
error and a hint, and ``StatusReport.ok`` is False.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from s3rb_tui.engine.core.errors import S3rbError
from s3rb_tui.engine.cursors.lag import data_lag_seconds
from s3rb_tui.engine.stores.layout import table_prefix
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.ledger import LoadedKeys, committed_files, summarize, tables_in_store, warehouse_configured
from s3rb_tui.engine.wiring.tunnels import tunnel_config
from s3rb_tui.engine.warehouses.redshift_sql import region_note

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace


@dataclass
class Check:
    name: str  # source | store | warehouse | tunnel:mysql | tunnel:warehouse
    ok: bool | None  # None: not configured, nothing to check
    target: str = ""
    latency_ms: float | None = None
    version: str | None = None
    error: str | None = None
    hint: str | None = None
    notes: list[str] = field(default_factory=list)  # what an operator should know (Redshift: deployment, the bucket's region)


@dataclass
class TableStatus:
    table: str
    last_data_timestamp: Any = None
    lag_seconds: float | None = None
    last_run_result: str | None = None
    last_run_at: str | None = None
    mysql_status: str | None = None
    redshift_status: str | None = None
    session: dict[str, int] = field(default_factory=dict)
    cumulative: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    files_waiting: int | None = None  # committed files not in the load ledger (None: no warehouse)
    rows_waiting: int | None = None  # their rows, from the Parquet footers
    last_error: str | None = None
    #: rows the watermark cannot see, as the latest run counted them (engine/cursors/census.py)
    future_cursor_rows: int | None = None
    null_cursor_rows: int | None = None
    cursor_warnings: list[str] = field(default_factory=list)
    error: str | None = None  # reading this table's state failed, or a named table does not exist
    never_backed_up: bool = False  # no watermark and no files


@dataclass
class StatusReport:
    checks: list[Check]
    tables: list[TableStatus]
    generated_at: str

    @property
    def ok(self) -> bool:
        """False when a check failed, a table's state could not be read (or a named table does not
        exist), or a table's last run failed (cron's ``status`` exits 1 naming it)."""
        return all(c.ok is not False for c in self.checks) and not any(t.error for t in self.tables) and not self.failed_tables

    @property
    def failed_tables(self) -> list[TableStatus]:
        return [t for t in self.tables if not t.error and t.last_run_result == "failed"]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "generated_at": self.generated_at, "failed_tables": [t.table for t in self.failed_tables],
                "checks": [asdict(c) for c in self.checks], "tables": [asdict(t) for t in self.tables]}


def _hint_for(error: BaseException) -> str | None:
    if isinstance(error, S3rbError) and error.hint:
        return error.hint
    text = str(error).lower()
    if "refused" in text:
        return "the service is not listening there: is it running, and are host and port right?"
    if "timed out" in text or "timeout" in text:
        return "no answer in time: check the network path, firewalls and BACKUP_TIMEOUT_SECONDS"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "the host name does not resolve: check the host setting"
    return None


def _message(error: BaseException) -> str:
    text = error.message if isinstance(error, S3rbError) else f"{type(error).__name__}: {error}"
    return " ".join(str(text).split())


def _run(check: Check, probe: Callable[[], str | None]) -> Check:
    """Time ``probe()`` (returns a version or None) and record its outcome on ``check``."""
    started = time.perf_counter()
    try:
        version = probe()
    except Exception as e:
        check.ok, check.error, check.hint = False, _message(e), _hint_for(e)
        return check
    check.ok = True
    if check.latency_ms is None:  # a probe may time its own round trip (without connecting)
        check.latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
    check.version = version
    return check


# --- the parts -------------------------------------------------------------------------------
def check_tunnel(ws: "Workspace", which: str) -> Check:
    check = Check(name=f"tunnel:{which}", ok=None)
    try:
        cfg = tunnel_config(ws.settings, which)
    except Exception as e:
        check.ok, check.error, check.hint = False, _message(e), _hint_for(e)
        return check
    if cfg is None:
        check.target = "no bastion configured"
        return check
    check.target = f"{cfg.user}@{cfg.bastion} -> {cfg.remote}"

    def probe() -> str | None:
        tunnel = ws.tunnel(which)  # the workspace's own tunnel: opened once, health-checked here
        check.target += f" (local 127.0.0.1:{tunnel.local_port})"
        return tunnel.remote_version()

    _run(check, probe)
    if check.ok:
        tunnel = ws.tunnel(which)
        check.latency_ms = tunnel.round_trip_ms() or check.latency_ms
    return check


def check_source(ws: "Workspace") -> tuple[Check, dt.datetime | None]:
    s = ws.settings
    if s.str("DB_DIALECT") == "sqlite":
        target = f"sqlite {s.str('DB_SQLITE_PATH')}"
    else:
        target = f"mysql {s.str('DB_HOST')}:{s.str('DB_PORT')} as {s.str('DB_USER')}" + (
            f" via bastion {s.str('SSH_BASTION_HOST')}" if s.str("SSH_BASTION_HOST") else "")
    check = Check(name="source", ok=None, target=target)
    clock: list[dt.datetime] = []

    def probe() -> str:
        source = ws.open_source()
        try:
            started = time.perf_counter()
            version = source.version()
            check.latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
            try:
                clock.append(source.now())
            except Exception:
                pass
            return version
        finally:
            source.close()

    _run(check, probe)
    return check, (clock[0] if clock else None)


def check_store(ws: "Workspace") -> Check:
    s = ws.settings
    endpoint = s.str("S3_ENDPOINT_URL")
    target = s.str("STORE_URL") or f"s3://{s.str('S3_BUCKET_NAME')}" + (f" at {endpoint}" if endpoint else f" (AWS {s.str('S3_REGION')})")
    check = Check(name="store", ok=None, target=target)

    def probe() -> None:
        ws.store.check()
        return None

    return _run(check, probe)


def check_warehouse(ws: "Workspace") -> Check:
    s = ws.settings
    if not warehouse_configured(s):
        return Check(name="warehouse", ok=None, target="not configured (REDSHIFT_HOST / DUCKDB_PATH empty)")
    if s.str("WAREHOUSE_DIALECT") == "duckdb" or (not s.str("REDSHIFT_HOST") and s.str("DUCKDB_PATH")):
        target = f"duckdb {s.str('DUCKDB_PATH')}"
    else:
        target = f"{s.str('WAREHOUSE_DIALECT')} {s.str('REDSHIFT_HOST')}:{s.str('REDSHIFT_PORT')}/{s.str('REDSHIFT_DATABASE')} as {s.str('REDSHIFT_USER')}"
    check = Check(name="warehouse", ok=None, target=target)

    def probe() -> str:
        wh = ws.open_warehouse(reading=True)
        try:
            check.target = wh.describe()
            if wh.dialect == "redshift":
                check.notes.append(region_note(s))
            started = time.perf_counter()
            version = " ".join(wh.version().split())
            check.latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
            return version
        finally:
            wh.close()

    return _run(check, probe)


# --- tables -------------------------------------------------------------------------------------
def table_status(ws: "Workspace", ref: TableRef, loaded: LoadedKeys | None, source_now: dt.datetime | None) -> TableStatus:
    st = TableStatus(table=ref.full_name)
    try:
        wm = ws.watermarks.get(ref)
        if wm is not None:
            st.last_data_timestamp = wm.last_data_timestamp
            st.lag_seconds = data_lag_seconds(wm.last_data_timestamp, source_now, (wm.cursor_census or {}).get("zone_offset_seconds") or 0.0)
            st.last_run_result = wm.last_run_result or (wm.mysql_status if wm.mysql_status in ("success", "failed") else None)
            st.last_run_at = wm.last_extraction_time or wm.updated_at
            st.mysql_status, st.redshift_status = wm.mysql_status, wm.redshift_status
            st.session = asdict(wm.session)
            st.cumulative = asdict(wm.cumulative)
            st.last_error = wm.last_error
            census = wm.cursor_census or {}
            st.future_cursor_rows, st.null_cursor_rows = census.get("future_rows"), census.get("null_rows")
            st.cursor_warnings = list(wm.cursor_warnings)
        prefix = table_prefix(ws.incremental_path, ref)
        summary = summarize(prefix, ref.full_name, ws.store.list(prefix), None)
        st.files, st.bytes = summary.files, summary.bytes
        st.never_backed_up = wm is None and summary.files == 0
        if loaded is not None:
            keys = loaded.for_table(ref)
            if keys is not None:
                from s3rb_tui.engine.warehouses.files import footer

                waiting = [f.key for f in committed_files(ws, ref, wm) if f.key not in keys]
                st.files_waiting = len(waiting)
                st.rows_waiting = sum(footer(ws.store, k).rows for k in waiting)
    except Exception as e:
        st.error = _message(e)
    return st


def _check_unknown(ws: "Workspace", statuses: list[TableStatus], source_ok: bool) -> None:
    """Named tables the store knows nothing of: a table the source does not have is an error (a
    typo in a cron line must not say OK); one it has was never backed up."""
    if not statuses:
        return
    if not source_ok:
        for st in statuses:
            st.error = "the store has nothing for this table, and the source cannot be reached to check that it exists"
        return
    try:
        with ws.open_source() as source:
            listed: dict[str, set[str]] = {}
            for st in statuses:
                ref = TableRef.parse(st.table)
                if ref.schema not in listed:
                    listed[ref.schema] = {t.ref.name for t in source.list_tables(ref.schema)}
                if ref.name in listed[ref.schema]:
                    st.last_run_result = "never backed up"
                else:
                    st.error = f"{st.table} is not a table of the source, and the store has nothing for it"
    except Exception as e:
        for st in statuses:
            st.error = f"could not check that the table exists: {_message(e)}"


def check_all(ws: "Workspace", tables: list[TableRef] | None = None) -> StatusReport:
    """Every check, then every table (the given ones, else all with a watermark or files)."""
    checks = [check_tunnel(ws, "mysql"), check_tunnel(ws, "warehouse")]
    source, source_now = check_source(ws)
    store = check_store(ws)
    warehouse = check_warehouse(ws)
    checks += [source, store, warehouse]
    statuses: list[TableStatus] = []
    named = tables is not None
    if store.ok:
        if tables is None:
            try:
                names = {wm.table for wm in ws.watermarks.list()} | {t.full_name for t in tables_in_store(ws.store, ws.incremental_path)}
                tables = [TableRef.parse(n) for n in sorted(names)]
            except Exception as e:
                statuses.append(TableStatus(table="(all)", error=_message(e)))
                tables = []
        with LoadedKeys(ws) as loaded:
            for ref in tables:
                statuses.append(table_status(ws, ref, loaded if warehouse.ok else None, source_now))
        if named:
            _check_unknown(ws, [s for s in statuses if s.never_backed_up and not s.error], bool(source.ok))
    return StatusReport(checks=checks, tables=statuses,
                        generated_at=dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
