"""Console test fixtures: deterministic workspaces (tests/tui/workspace.py) and app factories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tui import workspace as wsdata

SNAPSHOT_ROOT = Path("/tmp/s3rb-tui-snapshots/workspace")  # fixed: the Config screen shows paths


@pytest.fixture(scope="session")
def golden_workspace(tmp_path_factory) -> Path:
    """A synced workspace built once per session; tests copy it before changing anything."""
    root = tmp_path_factory.mktemp("golden") / "ws"
    wsdata.build(root, rows=3000, state="synced")
    return root


@pytest.fixture
def synced_env(golden_workspace: Path, tmp_path: Path) -> dict[str, str]:
    """A private copy of the synced workspace: free to change."""
    root = tmp_path / "ws"
    shutil.copytree(golden_workspace, root)
    return wsdata.env_for(root)


@pytest.fixture
def source_only_env(tmp_path: Path) -> dict[str, str]:
    """Demo source data, an empty store and warehouse."""
    return wsdata.build(tmp_path / "ws", rows=3000, state="source")


@pytest.fixture(scope="session")
def snapshot_env(golden_workspace: Path) -> dict[str, str]:
    """The synced workspace at a fixed path, so every screen renders the same on every run."""
    if SNAPSHOT_ROOT.exists():
        shutil.rmtree(SNAPSHOT_ROOT)
    SNAPSHOT_ROOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(golden_workspace, SNAPSHOT_ROOT)
    return wsdata.env_for(SNAPSHOT_ROOT)

