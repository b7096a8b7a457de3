"""Engine-level backups for tests, and an independent reader of what they wrote.

``engine_backup`` runs the real backup job in this process (real MariaDB, a local-directory
store); ``stored_rows`` reads the store's Parquet files with pyarrow alone (not the engine's code),
in the order a load applies them: file name (run stamp, batch number), then row order.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.jobs import JobContext, TableResult
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.waiting import wait_until

ENGINES = ("pymysql", "fast")


def engine_backup(env: dict, table: str, engine: str, *, dry_run: bool = False, batch_size: int = 500,
                  events: list | None = None) -> TableResult:
    """One backup of ``table`` through the engine (``engine``: pymysql or fast)."""
    ws = Workspace(build_settings(env))
    try:
        ctx = JobContext("backup", sink=events.append if events is not None else None)
        [result] = run_backup(ws, [ws.table_ref(table)], ctx, batch_size=batch_size, dry_run=dry_run, extract_engine=engine)
    finally:
        ws.close()
    return result


def stored_rows(store_dir: Path, table: str) -> list[dict]:
    """Every row of every data file of ``table`` (``schema.table``), files in name order."""
    root = Path(store_dir) / "incremental" / table
    files = sorted(root.rglob("*.parquet"), key=lambda p: p.name)
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def latest_by_key(rows: list[dict], key: str = "id") -> dict:
    """The version of each key a merge keeps: the one extracted last."""
    return {r[key]: r for r in rows}


def server_clock(server: dict) -> dt.datetime:
    with mariadb.connect(server) as conn, conn.cursor() as cur:
        cur.execute("SELECT UTC_TIMESTAMP(6)")
        return cur.fetchone()[0]


def wait_for_server_clock_past(server: dict, moment: dt.datetime, timeout: float = 10.0) -> dt.datetime:
    """Wait until the server's UTC clock is past ``moment`` (naive UTC); returns the clock."""
    return wait_until(lambda: (lambda now: now if now > moment else None)(server_clock(server)), timeout,
                      f"the server clock passing {moment}")


def wait_for_next_second(server: dict) -> dt.datetime:
    """Wait until the server clock is in a later second than now: a second-precision cursor
    written before this call is then in a complete second, which the next run's bound takes."""
    now = server_clock(server)
    return wait_for_server_clock_past(server, now.replace(microsecond=0) + dt.timedelta(seconds=1))


def wait_for_next_local_second() -> dt.datetime:
    """For a source whose clock is this machine's (the SQLite demo), whose DATETIME columns hold
    fractions a writer stamped (``10:00:05.7``) though declared with whole seconds: a run bounds
    them at the last complete second before its clock (``10:00:05`` once it is ``10:00:06.x``),
    so a row stamped now is taken once the clock is two second boundaries further."""
    now = dt.datetime.now(dt.timezone.utc)
    later = now.replace(microsecond=0) + dt.timedelta(seconds=2)
    return wait_until(lambda: (lambda t: t if t > later else None)(dt.datetime.now(dt.timezone.utc)), 10,
                      "this machine's clock passing two second boundaries")
