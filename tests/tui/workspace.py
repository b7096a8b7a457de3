"""Deterministic console workspaces on the real engine parts: the demo's SQLite source (fixed
anchor), a local-directory store and a DuckDB warehouse.

``build(root, rows, state)`` generates the demo data with a fixed anchor, then (``state="synced"``)
runs the real backup of every demo table and the real load of two of them, so the store holds
committed files, some loaded and some not. Only the clock that names a run's files is pinned
(``backup._next_run_start``), so file keys, and with them the Files screen, are the same on every
run. Used by the Pilot/snapshot tests and by scripts/screenshots.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from pathlib import Path
from unittest import mock

from s3rb_tui import demo, demo_data

ANCHOR = dt.datetime(2025, 3, 1, 5, 0, 0)  # the demo data's "now" (naive UTC)
RUN_START = dt.datetime(2025, 3, 1, 6, 0, 0, tzinfo=dt.timezone.utc)  # names the backup's files
FROZEN_NOW = dt.datetime(2025, 3, 1, 7, 30, 0, tzinfo=dt.timezone.utc)  # the console's clock in snapshots
FILE_MTIME = dt.datetime(2025, 3, 1, 6, 5, 0, tzinfo=dt.timezone.utc)
SCHEMA = demo.SCHEMA
DELIVERY = f"{SCHEMA}.{demo_data.DELIVERY}"
CLAIMS = f"{SCHEMA}.{demo_data.CLAIMS}"
PARTNERS = f"{SCHEMA}.{demo_data.PARTNER_INFO}"
TABLES = (CLAIMS, DELIVERY, PARTNERS)


def frozen_clock() -> dt.datetime:
    return FROZEN_NOW


@contextlib.contextmanager
def pinned_run_start(moment: dt.datetime = RUN_START):
    from s3rb_tui.engine.ops import backup

    with mock.patch.object(backup, "_next_run_start", lambda wm: moment):
        yield


def env_for(root: Path) -> dict[str, str]:
    env = demo.demo_env(root)
    env["BACKUP_BATCH_SIZE"] = "1000"
    return env


def settings_for(root: Path):
    from s3rb_tui.settings import build_settings

    return build_settings(env_for(root))


def build(root: Path, rows: int = 3000, state: str = "synced") -> dict[str, str]:
    """A fresh workspace at ``root``: ``state`` is "source" (data only), "backed_up" (every table's
    files committed, none loaded) or "synced" (backed up, and claims and partners loaded)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "store").mkdir()
    (root / "s3rb.toml").write_text(demo.TABLE_CONFIG, encoding="utf-8")
    demo_data.generate(root / "source.sqlite", rows, ANCHOR)
    env = env_for(root)
    if state in ("backed_up", "synced"):
        _backup_and_load(env, load=state == "synced")
        for path in (root / "store").rglob("*.parquet"):
            os.utime(path, (FILE_MTIME.timestamp(), FILE_MTIME.timestamp()))
    if state == "synced":
        seed_runs(root / "store")
    return env


def _run_doc(job_id: str, started: dt.datetime, seconds: float, command: str, trigger: str, host: str, status: str,
             tables: list[dict], interactive: bool = False) -> dict:
    from s3rb_tui.engine.history.records import iso, new_run_id

    return {"run_id": new_run_id(job_id, started), "command": command, "options": {"tables": [t["table"] for t in tables]},
            "trigger": trigger, "interactive": interactive, "host": host, "pid": 4242, "user": "etl",
            "started_at": iso(started), "heartbeat_at": iso(started + dt.timedelta(seconds=seconds)),
            "finished_at": iso(started + dt.timedelta(seconds=seconds)), "status": status, "stale_after_seconds": 300,
            "error": None, "hint": None, "tables": tables}


def _table(name: str, status: str, extracted: int | None, loaded: int | None, **extra) -> dict:
    return {"table": name, "status": status, "rows_extracted": extracted, "rows_loaded": loaded, "files": 3, "bytes": 90_000,
            "seconds": {"backup": 1.2} if loaded is None else {"backup": 1.2, "load": 0.8}, "error": None, "hint": None, **extra}


def seed_runs(store_root: Path) -> None:
    """Three fixed run records (a cron backup, a console load, a failed cron sync), as runs on
    other hosts would have written them: the History screen and the Dashboard's "Last run"."""
    import json

    from s3rb_tui.engine.history.records import write_doc
    from s3rb_tui.engine.stores.local import LocalStore

    store = LocalStore(store_root)
    docs = [
        _run_doc("0a0a0a0a0a01", RUN_START, 4.5, "backup", "cli", "etl-2", "success",
                 [_table(t, "success", 3000, None) for t in TABLES]),
        _run_doc("0b0b0b0b0b02", RUN_START + dt.timedelta(minutes=10), 2.0, "sync", "console", "ops-1", "success",
                 [_table(CLAIMS, "success", None, 3000), _table(PARTNERS, "success", None, 3000)]),
        _run_doc("0c0c0c0c0c03", RUN_START + dt.timedelta(hours=1), 31.0, "sync", "cli", "etl-2", "failed",
                 [_table(DELIVERY, "failed", 0, 0, error="cannot connect to the warehouse at 10.0.0.5:5439: timed out",
                         hint="no answer in time: check the network path, firewalls and BACKUP_TIMEOUT_SECONDS",
                         log=["07:00:01 info backup phase started", "07:00:02 info backup done status=no new data",
                              "07:00:31 error load failed: timed out"])]),
    ]
    for doc in docs:
        write_doc(store, doc, json.dumps(doc), None)


def _backup_and_load(env: dict[str, str], load: bool) -> None:
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.core.jobs import JobContext
    from s3rb_tui.engine.ops.sync import run_sync
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import build_settings

    with Workspace(build_settings(env)) as ws, pinned_run_start():
        results = run_backup(ws, [ws.table_ref(t) for t in TABLES], JobContext("fixture-backup"))
        assert all(r.ok for r in results), results
        if not load:
            return
        results = run_sync(ws, [ws.table_ref(t) for t in (CLAIMS, PARTNERS)], JobContext("fixture-load"), load_only=True)
        assert all(r.ok for r in results), results
