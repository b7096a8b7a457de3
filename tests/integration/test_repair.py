"""``repair`` on real MariaDB and a real PostgreSQL / DuckDB warehouse: the plan, its guards (the
TTY/--force rule, the max-delete-ratio), a repair that makes verify equal, and a repair killed
with SIGKILL at a random moment whose rerun converges."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.files_model import FileEntry, read_row_counts
from s3rb_tui.tui.screens.files import file_label
from tests.support.verify_stand import EDGE_DDL, EDGE_FILL, _setup, _verify, mysql
from tests.support.waiting import wait_until


def _differences(wh, mysql_server, mysql_db):
    wh.run("UPDATE public.edge SET d = d + 1 WHERE id IN (10, 11)",
           "UPDATE public.edge SET t = 'wrong' WHERE id = 12",
           "DELETE FROM public.edge WHERE id IN (20, 21, 22)")
    mysql(mysql_server, mysql_db, "DELETE FROM edge WHERE id = 30")  # deleted at the source: extra in the warehouse


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_repair_plans_asks_and_makes_verify_equal(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    _differences(wh, mysql_server, mysql_db)

    dry = run_cli("--run", "repair", "-t", "edge", "--dry-run", env=env)
    assert dry.returncode == 0 and "re-extract 6 key(s)" in dry.stdout and "delete 1 warehouse row(s)" in dry.stdout, dry.stdout + dry.stderr
    no_tty = run_cli("--run", "repair", "-t", "edge", env=env)  # no terminal, no --force: refused, nothing changed
    assert no_tty.returncode == 2 and "--force" in no_tty.stderr
    assert _verify(env, "edge").counts == {"missing_in_warehouse": 3, "extra_in_warehouse": 1, "different": 3}

    done = run_cli("--run", "repair", "-t", "edge", "--force", "--json", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads(done.stdout)["plan"]["reextract"] == 6
    after = _verify(env, "edge")
    assert after.equal and after.warehouse_rows == after.source_rows
    store = tmp_path / "store"
    with Workspace(build_settings(env)) as ws:  # the Files tree marks the repair batch, from its footer
        marks = read_row_counts(ws, [str(p.relative_to(store)) for p in store.rglob("*.parquet")])
    repaired = [k for k, (_, repair) in marks.items() if repair]
    assert len(repaired) == 1 and marks[repaired[0]][0] == 6
    label = file_label(FileEntry(repaired[0], 1, dt.datetime.now(dt.timezone.utc), loaded=True, rows=6, repair=True),
                       dt.datetime.now(dt.timezone.utc), True)
    assert "repair batch" in label.plain
    again = run_cli("--run", "repair", "-t", "edge", "--force", env=env)
    assert again.returncode == 0 and "nothing to repair" in again.stdout
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "edge", env=env)
    assert counts.returncode == 0, counts.stdout  # the repair batch is in the watermark's history and the ledger


def test_mass_delete_is_refused_without_both_flags(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    mysql(mysql_server, mysql_db, "DELETE FROM edge WHERE id <= 100")  # 3.3% of the table: looks like a partial read
    refused = run_cli("--run", "repair", "-t", "edge", "--force", env=env)
    assert refused.returncode == 2 and "--max-delete-ratio" in refused.stderr and "--allow-mass-delete" in refused.stderr
    assert _verify(env, "edge").counts["extra_in_warehouse"] == 100  # nothing changed
    allowed = run_cli("--run", "repair", "-t", "edge", "--max-delete-ratio", "0.05", "--force", env=env)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert _verify(env, "edge").equal


@pytest.mark.parametrize("dialect", ["postgres"])
def test_repair_killed_then_rerun_converges(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    _differences(wh, mysql_server, mysql_db)
    store = tmp_path / "store"
    before = set(store.rglob("*.parquet"))
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}
    proc = subprocess.Popen([sys.executable, "-m", "s3rb_tui", "--run", "repair", "-t", "edge", "--force"], env=child_env,
                            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    # killed as soon as the repair batch is in the store: before or after its commit, or during its load
    wait_until(lambda: set(store.rglob("*.parquet")) - before or proc.poll() is not None, timeout=120, what="the repair batch")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = run_cli("--run", "repair", "-t", "edge", "--force", env=env)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert _verify(env, "edge").equal
    sync = run_cli("--run", "sync", "-t", "edge", env=env)  # whatever the first one left, a sync takes it once
    assert sync.returncode == 0 and _verify(env, "edge").equal


def test_detect_deletes_propagates_the_sources_deletes_under_the_ratio(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    table = f"{mysql_db}.edge"
    wh, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge",
                     toml=f'[tables."{table}"]\ndetect_deletes = true\nmax_delete_ratio = 0.02\n')
    mysql(mysql_server, mysql_db, "DELETE FROM edge WHERE id IN (7, 8)")
    synced = run_cli("--run", "sync", "-t", "edge", "--json", env=env)
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-2000:]
    [t] = json.loads(synced.stdout)["tables"]
    assert t["details"]["load"]["details"]["deletes"] == {"detected": 2, "deleted": 2, "refused": None}
    assert any("2 row(s) deleted at the source" in w for w in t["warnings"])
    assert _verify(env, "edge").equal

    mysql(mysql_server, mysql_db, "DELETE FROM edge WHERE id BETWEEN 100 AND 199")  # 3.3% > 2%: refused, nothing deleted
    refused = run_cli("--run", "sync", "-t", "edge", "--json", env=env)
    [t] = json.loads(refused.stdout)["tables"]
    assert t["details"]["load"]["details"]["deletes"]["deleted"] == 0 and "max-delete-ratio" in t["details"]["load"]["details"]["deletes"]["refused"]
    assert _verify(env, "edge").counts["extra_in_warehouse"] == 100


def test_a_cancelled_repair_commits_nothing(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    """The console's Cancel reaches the repair while it reads the source's rows: nothing is
    committed (the watermark's history and the warehouse stay as they were), and a repair run
    afterwards still finds and fixes every difference."""
    from s3rb_tui.engine.core.errors import Cancelled
    from s3rb_tui.engine.core.jobs import CancelToken, JobContext
    from s3rb_tui.engine.ops.repair import apply_repair, plan_repair

    wh, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    _differences(wh, mysql_server, mysql_db)
    with Workspace(build_settings(env)) as ws:
        ref = ws.table_ref("edge")
        plan = plan_repair(ws, ref)
        before = ws.watermarks.get(ref)
        token = CancelToken()
        token.cancel()
        with pytest.raises(Cancelled):
            apply_repair(ws, plan, JobContext("repair", cancel=token))
        after = ws.watermarks.get(ref)
    assert (after.committed_through, after.files_written_total) == (before.committed_through, before.files_written_total)
    assert _verify(env, "edge").counts == {"missing_in_warehouse": 3, "extra_in_warehouse": 1, "different": 3}
    done = run_cli("--run", "repair", "-t", "edge", "--force", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _verify(env, "edge").equal
