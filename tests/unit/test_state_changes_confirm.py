"""Every state-changing headless command asks on a terminal and needs --force without one (issue 13,
bug 9): watermark set/reset, set-count, s3clean clean, clean --confirm. A local-directory store,
the CLI in this process (in a subprocess on a pseudo-terminal for the prompts); no database is reachable (DB_PORT=1),
which the plans survive."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from s3rb_tui.engine.stores.layout import FilePosition, data_key, run_stamp
from s3rb_tui.engine.stores import open_store
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Counts, Watermark, WatermarkStore
from s3rb_tui.settings import build_settings
from tests.support.headless import run_in_process
from tests.support.terminal import run_in_terminal

T = TableRef("db", "t")
RUN = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)

COMMANDS = {
    "watermark set": ["watermark", "set", "-t", "db.t", "--timestamp", "2025-01-01 00:00:00"],
    "watermark reset": ["watermark", "reset", "-t", "db.t"],
    "set-count": ["watermark-count", "set-count", "-t", "db.t", "--count", "5"],
    "s3clean clean": ["s3clean", "clean", "-t", "db.t"],
    "clean --confirm": ["clean", "--prefix", "incremental/", "--days", "1", "--confirm"],
}


@pytest.fixture
def workspace(tmp_path: Path):
    root = tmp_path / "store"
    root.mkdir()
    env = {"STORE_URL": f"file://{root}", "DB_PORT": "1", "DB_DATABASE": "db", "BACKUP_TIMEOUT_SECONDS": "5"}
    store = open_store(build_settings(env))
    keys = [data_key("incremental/", T, RUN, b) for b in (1, 2)]
    for k in keys:
        store.put(k, b"p" * 100)
        old = (RUN - dt.timedelta(days=30)).timestamp()
        os.utime(root / k, (old, old))
    WatermarkStore(store).write(Watermark(
        table=T.full_name, last_data_timestamp="2024-05-01 07:00:00", mysql_status="success", backup_strategy="sequential",
        cumulative=Counts(10, 0), files_written_total=2, committed_through=str(FilePosition(run_stamp(RUN), 2)),
    ), None)
    return env, root


def state(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and "/locks/" not in str(p)}


def cli(args, env, cwd):
    """In this process (tests/support/headless.py), stdin empty and not a terminal."""
    return run_in_process("--run", *args, env=env, cwd=cwd)


@pytest.mark.parametrize("name", COMMANDS)
def test_without_a_terminal_and_without_force_nothing_changes(name, workspace, tmp_path):
    env, root = workspace
    before = state(root)
    proc = cli(COMMANDS[name], env, tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [l for l in proc.stderr.splitlines() if l.startswith("s3rb-tui: error:")]
    assert len(errors) == 1 and "no terminal to confirm on; nothing " in errors[0] and "--force" in errors[0]
    assert "Traceback" not in proc.stderr
    assert state(root) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_on_a_terminal_no_changes_nothing_and_yes_applies(name, workspace, tmp_path):
    env, root = workspace
    before = state(root)
    code, out = run_in_terminal(["--run", *COMMANDS[name]], env, b"n\n", tmp_path)
    assert code == 1, out
    assert "[y/N]" in out and "not confirmed" in out
    assert state(root) == before
    code, out = run_in_terminal(["--run", *COMMANDS[name]], env, b"y\n", tmp_path)
    assert code == 0, out
    assert state(root) != before


@pytest.mark.parametrize("name", COMMANDS)
def test_force_applies_without_a_terminal(name, workspace, tmp_path):
    env, root = workspace
    before = state(root)
    proc = cli([*COMMANDS[name], "--force"], env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert state(root) != before
