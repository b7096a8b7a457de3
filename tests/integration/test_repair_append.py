"""``repair`` of an append table on real MariaDB and a real PostgreSQL / DuckDB warehouse: missing,
different and deleted keys repaired so ``<table>_latest`` agrees (verify equal), the deleted keys
in ``<table>_deleted``, a key deleted then re-inserted at the source back in the view, the ratio
guard, ``detect_deletes``, and a repair killed with SIGKILL whose rerun converges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.support.verify_stand import _setup, _verify, mysql
from tests.support.waiting import wait_until

DDL = "CREATE TABLE events (id BIGINT NOT NULL PRIMARY KEY, status VARCHAR(20), update_at DATETIME(6) NOT NULL)"
FILL = "INSERT INTO events SELECT seq, 'NEW', TIMESTAMP'2025-04-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_500"


def _append(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, extra=""):
    toml = f'[tables."{mysql_db}.events"]\nload_mode = "append"\n{extra}'
    return _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, DDL, FILL, "events", toml=toml)


def _differences(wh, mysql_server, mysql_db):
    # id 10: a changed value at the same cursor (an old version that ties with the repaired one);
    # ids 20, 21: missing; id 30: deleted at the source
    wh.run("UPDATE public.events SET status = 'wrong' WHERE id = 10", "DELETE FROM public.events WHERE id IN (20, 21)")
    mysql(mysql_server, mysql_db, "DELETE FROM events WHERE id = 30")


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_append_repair_makes_latest_agree_and_a_reinserted_key_comes_back(dialect, mysql_server, mysql_db, make_env, run_cli,
                                                                          tmp_path, request):
    wh, env = _append(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request)
    mysql(mysql_server, mysql_db, "UPDATE events SET status = 'DONE', update_at = '2025-05-01 00:00:00' WHERE id <= 5")
    assert run_cli("--run", "sync", "-t", "events", env=env).returncode == 0  # history: ids 1-5 twice
    _differences(wh, mysql_server, mysql_db)
    assert _verify(env, "events").counts == {"missing_in_warehouse": 2, "extra_in_warehouse": 1, "different": 1}

    dry = run_cli("--run", "repair", "-t", "events", "--dry-run", env=env)
    assert dry.returncode == 0 and "re-extract 3 key(s)" in dry.stdout and "delete 1 warehouse row(s)" in dry.stdout, dry.stdout + dry.stderr
    assert "recorded in <table>_deleted" in dry.stdout
    done = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    after = _verify(env, "events")
    assert after.equal and after.warehouse_rows == after.source_rows == 499
    assert [r[0] for r in wh.q("SELECT id FROM public.events_deleted")] == [30]
    assert wh.q("SELECT COUNT(*) FROM public.events WHERE id = 30")[0][0] == 1  # history kept: only hidden
    assert wh.q("SELECT COUNT(*) FROM public.events WHERE id <= 5")[0][0] == 10  # older versions untouched
    assert wh.q("SELECT status FROM public.events WHERE id = 10") == [("NEW",)]  # the tied wrong version replaced
    again = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert again.returncode == 0 and "nothing to repair" in again.stdout

    mysql(mysql_server, mysql_db, "INSERT INTO events VALUES (30, 'BACK', '2025-06-01 00:00:00')")  # re-inserted, a newer cursor
    assert run_cli("--run", "sync", "-t", "events", env=env).returncode == 0
    back = _verify(env, "events")
    assert back.equal and back.source_rows == 500
    assert wh.q("SELECT status FROM public.events_latest WHERE id = 30") == [("BACK",)]


def test_append_repair_ratio_guard_and_a_reinsert_at_the_old_cursor(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _append("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request)
    mysql(mysql_server, mysql_db, "DELETE FROM events WHERE id <= 100")  # 20%: looks like a partial read
    refused = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert refused.returncode == 2 and "--max-delete-ratio" in refused.stderr and "--allow-mass-delete" in refused.stderr
    assert _verify(env, "events").counts["extra_in_warehouse"] == 100  # nothing changed
    assert wh.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'events_deleted'")[0][0] == 0
    allowed = run_cli("--run", "repair", "-t", "events", "--force", "--allow-mass-delete", env=env)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert _verify(env, "events").equal

    # re-inserted with the cursor it had: no sync picks it up (below the watermark) and its cursor is
    # not newer than the deleted one; verify finds it missing and repair brings it back
    mysql(mysql_server, mysql_db, "INSERT INTO events VALUES (7, 'NEW', TIMESTAMP'2025-04-01 00:00:07')")
    assert _verify(env, "events").missing_in_warehouse == [[7]]
    assert run_cli("--run", "repair", "-t", "events", "--force", env=env).returncode == 0
    assert _verify(env, "events").equal
    assert [r[0] for r in wh.q("SELECT id FROM public.events_deleted WHERE id = 7")] == []


def test_append_detect_deletes_records_them_under_the_ratio(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _append("postgres", mysql_server, mysql_db, make_env, run_cli, tmp_path, request,
                      extra="detect_deletes = true\nmax_delete_ratio = 0.02\n")
    mysql(mysql_server, mysql_db, "DELETE FROM events WHERE id IN (7, 8)")
    synced = run_cli("--run", "sync", "-t", "events", "--json", env=env)
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-2000:]
    [t] = json.loads(synced.stdout)["tables"]
    assert t["details"]["load"]["details"]["deletes"] == {"detected": 2, "deleted": 2, "refused": None}
    assert _verify(env, "events").equal
    assert sorted(r[0] for r in wh.q("SELECT id FROM public.events_deleted")) == [7, 8]
    quiet = run_cli("--run", "sync", "-t", "events", "--json", env=env)  # recorded once: nothing detected again
    [t] = json.loads(quiet.stdout)["tables"]
    assert t["details"]["load"]["details"].get("deletes", {"detected": 0})["detected"] == 0

    mysql(mysql_server, mysql_db, "DELETE FROM events WHERE id BETWEEN 100 AND 119")  # 4% > 2%: refused
    refused = run_cli("--run", "sync", "-t", "events", "--json", env=env)
    [t] = json.loads(refused.stdout)["tables"]
    assert t["details"]["load"]["details"]["deletes"]["deleted"] == 0
    assert "max-delete-ratio" in t["details"]["load"]["details"]["deletes"]["refused"]
    assert _verify(env, "events").counts["extra_in_warehouse"] == 20


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_append_repair_killed_then_rerun_converges(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _append(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request)
    _differences(wh, mysql_server, mysql_db)
    store = tmp_path / "store"
    before = set(store.rglob("*.parquet"))
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}
    proc = subprocess.Popen([sys.executable, "-m", "s3rb_tui", "--run", "repair", "-t", "events", "--force"], env=child_env,
                            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    # killed as soon as the repair batch is in the store: before or after its commit, or during its load
    wait_until(lambda: set(store.rglob("*.parquet")) - before or proc.poll() is not None, timeout=120, what="the repair batch")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert _verify(env, "events").equal
    sync = run_cli("--run", "sync", "-t", "events", env=env)  # whatever the first one left, a sync takes it once
    assert sync.returncode == 0 and _verify(env, "events").equal
    assert [r[0] for r in wh.q("SELECT DISTINCT id FROM public.events_deleted")] == [30]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_append_repair_with_a_composite_key_holding_a_datetime(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    toml = f'[tables."{mysql_db}.ev2"]\nload_mode = "append"\ncursor_column = "at"\n'
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request,
                     "CREATE TABLE ev2 (id BIGINT NOT NULL, at DATETIME(6) NOT NULL, v VARCHAR(9), PRIMARY KEY (id, at))",
                     "INSERT INTO ev2 SELECT seq, TIMESTAMP'2025-04-01 00:00:00' + INTERVAL seq SECOND, 'x' FROM seq_1_to_300",
                     "ev2", toml=toml)
    mysql(mysql_server, mysql_db, "DELETE FROM ev2 WHERE id = 9")
    wh.run("DELETE FROM public.ev2 WHERE id = 8")
    assert _verify(env, "ev2").counts == {"missing_in_warehouse": 1, "extra_in_warehouse": 1, "different": 0}
    done = run_cli("--run", "repair", "-t", "ev2", "--force", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _verify(env, "ev2").equal
    assert [r[0] for r in wh.q("SELECT id FROM public.ev2_deleted")] == [9]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_validate_counts_after_a_repair_replaced_a_tied_version(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    """A row changed at the source without its cursor moving (the stored version ties with the new
    one): no sync sees it, verify does, and the repair replaces the tied version. The table then
    holds one row fewer than its files loaded, and validate-counts knows why instead of reporting
    rows deleted outside the pipeline."""
    wh, env = _append(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request)
    mysql(mysql_server, mysql_db, "UPDATE events SET status = 'DONE' WHERE id = 10")  # update_at unchanged
    assert _verify(env, "events").counts == {"missing_in_warehouse": 0, "extra_in_warehouse": 0, "different": 1}
    done = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert wh.q("SELECT COUNT(*) FROM public.events")[0][0] == 500  # 500 loaded first, 1 by the repair, 1 replaced
    assert wh.q("SELECT status FROM public.events WHERE id = 10") == [("DONE",)]

    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "events", "--json", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr
    table = json.loads(counts.stdout)["tables"][0]
    assert table["unexpected"] == [] and table["ledger"]["adjusted_rows"] == -1
    assert ("1 loaded rows are not in the table on repair batches' account: older versions they replaced, or rows deleted "
            "outside the pipeline that they restored (the table holds 500 of the 501 loaded)") in table["expected"]

    # rows deleted outside the pipeline afterwards are still reported, against what the table should hold
    wh.run("DELETE FROM public.events WHERE id = 40")
    tampered = run_cli("--run", "watermark-count", "validate-counts", "-t", "events", env=env)
    assert tampered.returncode == 1
    assert "warehouse has 499 rows but 500 were loaded (501, less 1 on repair batches' account): rows were deleted" in tampered.stdout


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_validate_counts_after_a_repair_restored_rows_deleted_outside(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    """Rows deleted from the warehouse table outside the pipeline are reported; once repair has
    restored them the counts agree again (the ledger had counted them when first loaded). A row the
    pipeline never loaded (its cursor behind the watermark), restored by the same repair, counts
    as new: no gap either way."""
    wh, env = _append(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request)
    wh.run("DELETE FROM public.events WHERE id IN (40, 41)")
    mysql(mysql_server, mysql_db, "INSERT INTO events VALUES (1001, 'LATE', TIMESTAMP'2025-04-01 00:00:00')")
    tampered = run_cli("--run", "watermark-count", "validate-counts", "-t", "events", env=env)
    assert tampered.returncode == 1
    assert "warehouse has 498 rows but 500 were loaded: rows were deleted from the table outside the pipeline" in tampered.stdout
    assert _verify(env, "events").counts == {"missing_in_warehouse": 3, "extra_in_warehouse": 0, "different": 0}

    done = run_cli("--run", "repair", "-t", "events", "--force", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _verify(env, "events").equal
    assert wh.q("SELECT COUNT(*) FROM public.events")[0][0] == 501
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "events", "--json", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr
    table = json.loads(counts.stdout)["tables"][0]
    assert table["unexpected"] == [] and table["ledger"]["rows"] == 503 and table["ledger"]["adjusted_rows"] == -2
    assert any(e.startswith("2 loaded rows are not in the table on repair batches' account") and "(the table holds 501 of the 503 loaded)" in e
               for e in table["expected"])

    # a rebuild reloads every file, the lost rows' first versions included: the restored rows then
    # replace their tied versions and take nothing more off
    rebuilt = run_cli("--run", "rebuild", "-t", "events", "--force", env=env)
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr[-2000:]
    assert wh.q("SELECT COUNT(*) FROM public.events")[0][0] == 501 and _verify(env, "events").equal
    again = run_cli("--run", "watermark-count", "validate-counts", "-t", "events", "--json", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
