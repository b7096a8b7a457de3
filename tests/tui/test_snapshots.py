"""Named SVG snapshots of every screen at 120x36 and of the dashboard at 80x24.

Data is deterministic (tests/tui/workspace.py); the app runs in stable mode with a frozen clock, so
ages, rates, durations and run ids are not drawn. Update with ``--snapshot-update`` after a
deliberate change, and look at the SVGs before committing them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tui import tour
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app

JOBS_ROOT = Path("/tmp/s3rb-tui-snapshots/jobs-workspace")


@pytest.fixture
def source_env_fixed_path() -> dict[str, str]:
    if JOBS_ROOT.exists():
        shutil.rmtree(JOBS_ROOT)
    return wsdata.build(JOBS_ROOT, rows=3000, state="source")


def _app(env):
    return make_app(env, clock=wsdata.frozen_clock, stable=True)


@pytest.mark.parametrize("name", [n for n, (_, kind) in tour.SCREENS.items() if kind == "synced"])
def test_screen_snapshot(name, snap_compare, snapshot_env):
    step, _ = tour.SCREENS[name]
    assert snap_compare(_app(snapshot_env), terminal_size=(120, 36), run_before=step)


def test_jobs_snapshot(snap_compare, source_env_fixed_path):
    assert snap_compare(_app(source_env_fixed_path), terminal_size=(120, 36), run_before=tour.jobs)


def test_dashboard_snapshot_80x24(snap_compare, snapshot_env):
    assert snap_compare(_app(snapshot_env), terminal_size=(80, 24), run_before=tour.dashboard)
