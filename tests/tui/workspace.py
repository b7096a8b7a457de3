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
    return env


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
        results = run_sync(ws, [ws.table_ref(t) for t in (CLAIMS, PARTNERS)], JobContext("fixture-load"), redshift_only=True)
        assert all(r.ok for r in results), results
