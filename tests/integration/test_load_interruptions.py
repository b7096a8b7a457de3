"""A load interrupted mid-batch (SIGKILL of the process, or its connection terminated by the
server) leaves every committed batch whole and nothing of the interrupted one; a rerun converges
to each row exactly once.

How the interruption is placed without sleeps: the test holds an uncommitted ledger row for the
first file of the SECOND batch. The loader commits batch 1, copies batch 2's rows, then blocks
on that ledger key (a unique-index wait we can see in pg_stat_activity). At that moment the
test kills the process (or terminates its backend) and releases its row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.support import postgres
from tests.support.waiting import wait_until

BATCH_ROWS = 500
FILES_PER_LOAD_BATCH = 16  # engine.ops.load.FILES_PER_BATCH
RENTAL_ROWS = 16044


def cli_env(make_env, tmp_path: Path) -> dict:
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}", BACKUP_BATCH_SIZE=str(BATCH_ROWS), REDSHIFT_MAX_PARALLEL_LOADS="1")
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}


def cli(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "s3rb_tui", "--run", *args], env=env, cwd=env["HOME"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    p = cli(env, *args)
    out, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def q(pg: dict, sql: str, params=None):
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def ledger(pg: dict) -> tuple[int, int, int]:
    """(files, distinct files, rows) of public.rental in the ledger, as committed."""
    return q(pg, "SELECT COUNT(*), COUNT(DISTINCT file_key), COALESCE(SUM(rows), 0) FROM public.s3rb_load_ledger WHERE table_name = 'public.rental'")[0]


def prepare(env: dict, pg: dict, store: Path) -> tuple[str, int]:
    """Back up rental in files of at most 500 rows, create the warehouse ledger; return the key of
    batch 2's first file and the rows of batch 1's files (their Parquet footers)."""
    done = run(env, "sync", "-t", "rental", "--backup-only")
    assert done.returncode == 0, done.stderr[-2000:]
    done = run(env, "sync", "-t", "language")  # any small table: the warehouse schema and ledger now exist
    assert done.returncode == 0, done.stderr[-2000:]
    keys = sorted(str(p.relative_to(store)) for p in store.rglob("*.parquet") if ".rental/" in str(p))
    assert len(keys) == (RENTAL_ROWS + BATCH_ROWS - 1) // BATCH_ROWS
    first_batch_rows = sum(pq.ParquetFile(store / k).metadata.num_rows for k in keys[:FILES_PER_LOAD_BATCH])
    return keys[FILES_PER_LOAD_BATCH], first_batch_rows


def hold_ledger_key(pg: dict, key: str):
    conn = postgres.connect(pg, pg["dbname"])
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("INSERT INTO public.s3rb_load_ledger VALUES (%s, 'public.rental', 0, now(), 'test-blocker')", (key,))
    return conn


def blocked_loader(pg: dict) -> int | None:
    """pid of the loader's backend once batch 1 is committed and batch 2 waits on the held key."""
    rows = q(pg, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 's3rb-tui' AND wait_event_type = 'Lock'",
             (pg["dbname"],))
    if rows and ledger(pg)[0] == FILES_PER_LOAD_BATCH:
        return rows[0][0]
    return None


def backend_gone(pg: dict, pid: int) -> bool:
    return not q(pg, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))


def assert_first_batch_only(pg: dict, first_batch_rows: int) -> None:
    files, distinct, rows = ledger(pg)
    assert (files, distinct) == (FILES_PER_LOAD_BATCH, FILES_PER_LOAD_BATCH)
    assert rows == first_batch_rows
    assert q(pg, "SELECT COUNT(*) FROM public.rental")[0][0] == rows  # nothing of batch 2


def assert_complete(pg: dict, env: dict) -> None:
    assert ledger(pg) == (33, 33, RENTAL_ROWS)
    assert q(pg, "SELECT COUNT(*), COUNT(DISTINCT rental_id) FROM public.rental")[0] == (RENTAL_ROWS, RENTAL_ROWS)
    wm = run(env, "watermark", "get", "-t", "rental", "--json")
    assert wm.returncode == 0, wm.stderr
    doc = json.loads(wm.stdout)
    assert doc["cumulative"]["loaded"] == RENTAL_ROWS and doc["redshift_status"] == "success"
    counts = run(env, "watermark-count", "validate-counts", "-t", "rental", "--json")
    assert counts.returncode == 0, counts.stdout


def test_sigkill_mid_load_then_rerun_loads_each_row_once(sakila_db, pg_db, make_env, tmp_path):
    env = cli_env(make_env, tmp_path)
    key, first_batch_rows = prepare(env, pg_db, tmp_path / "store")
    blocker = hold_ledger_key(pg_db, key)
    loader = cli(env, "sync", "-t", "rental", "--redshift-only", "--json")
    try:
        pid = wait_until(lambda: blocked_loader(pg_db), 120, "loader blocked in its second batch")
        os.kill(loader.pid, signal.SIGKILL)
        loader.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == -signal.SIGKILL
    wait_until(lambda: backend_gone(pg_db, pid), 60, "the killed loader's backend ended")
    assert_first_batch_only(pg_db, first_batch_rows)

    rerun = run(env, "sync", "-t", "rental", "--redshift-only", "--json")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert json.loads(rerun.stdout)["tables"][0]["rows"] == RENTAL_ROWS - first_batch_rows
    assert_complete(pg_db, env)


def test_terminated_connection_fails_cleanly_then_rerun_succeeds(sakila_db, pg_db, make_env, tmp_path):
    env = cli_env(make_env, tmp_path)
    key, first_batch_rows = prepare(env, pg_db, tmp_path / "store")
    blocker = hold_ledger_key(pg_db, key)
    loader = cli(env, "sync", "-t", "rental", "--redshift-only", "--json")
    try:
        pid = wait_until(lambda: blocked_loader(pg_db), 120, "loader blocked in its second batch")
        assert q(pg_db, "SELECT pg_terminate_backend(%s)", (pid,))[0][0] is True
        out, err = loader.communicate(timeout=120)
    finally:
        blocker.rollback()
        blocker.close()
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == 1, err[-2000:]
    result = json.loads(out)["tables"][0]
    assert result["status"] == "failed" and "lost the warehouse connection" in result["error"]
    assert "Traceback" not in err
    assert_first_batch_only(pg_db, first_batch_rows)

    rerun = run(env, "sync", "-t", "rental", "--redshift-only")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_complete(pg_db, env)
