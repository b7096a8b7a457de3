"""Overlapping runs (issue 13, bug 1): a run refused by the table lock changes nothing that belongs
to the run holding it. Two real processes on a real S3 endpoint and MariaDB (PostgreSQL for the
load): the holder is stalled mid-run by a MariaDB table lock (``LOCK TABLES … WRITE`` blocks its
next batch query), the second run is refused, the table lock is released, and the holder must
finish with all its rows and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import mariadb, postgres
from tests.support.s3 import data_keys
from tests.support.waiting import wait_until

RENTAL_ROWS = 16044


class Holder:
    """A headless run in a child process, output to files (a full pipe would stall it)."""

    def __init__(self, args: list[str], env: dict, workdir: Path):
        self.out, self.err = workdir / "holder.out", workdir / "holder.err"
        self.proc = subprocess.Popen([sys.executable, "-m", "s3rb_tui", *args], env=env, cwd=workdir,
                                     stdout=self.out.open("w"), stderr=self.err.open("w"), stdin=subprocess.DEVNULL)

    def finish(self, timeout: float = 300) -> tuple[int, dict]:
        rc = self.proc.wait(timeout=timeout)
        text = self.out.read_text()
        assert text.strip().startswith("{"), f"holder exit {rc}: {text}\n{self.err.read_text()[-3000:]}"
        return rc, json.loads(text)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _env(make_env, tmp_path: Path, **extra) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", **make_env(**extra)}


def _overlap(holder_args, intruder_args, env, tmp_path, mysql_server, db, s3_client, bucket, files_before=0):
    """Start the holder, stall it after two new files, run the intruder to its end, let the holder go."""
    holder = Holder(holder_args, env, tmp_path)
    stall = mariadb.connect(mysql_server, db)
    try:
        wait_until(lambda: len(data_keys(s3_client, bucket)) >= files_before + 2 or holder.proc.poll() is not None,
                   120, "the holder wrote two files")
        assert holder.proc.poll() is None, "the holder ended before the overlap: " + holder.err.read_text()[-2000:]
        with stall.cursor() as cur:
            cur.execute("LOCK TABLES rental WRITE")  # the holder's next batch query waits here
        intruder = subprocess.run([sys.executable, "-m", "s3rb_tui", *intruder_args], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert holder.proc.poll() is None, "the holder must still be running while the intruder is refused"
        with stall.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        rc, doc = holder.finish()
    finally:
        stall.close()
        holder.kill()
    return intruder, rc, doc


def _watermark(env, tmp_path, table) -> dict:
    proc = subprocess.run([sys.executable, "-m", "s3rb_tui", "--run", "watermark", "get", "-t", table, "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("intruder", [["backup"], ["sync", "--backup-only"]], ids=["backup", "sync"])
def test_refused_run_leaves_the_holders_first_backup_whole(intruder, make_env, mysql_server, sakila_db, s3_client, s3_bucket, tmp_path):
    env = _env(make_env, tmp_path, BACKUP_BATCH_SIZE="100")
    table = f"{sakila_db}.rental"
    refused, rc, doc = _overlap(["--run", "backup", "-t", table, "--json"], ["--run", *intruder, "-t", table],
                                env, tmp_path, mysql_server, sakila_db, s3_client, s3_bucket)
    assert refused.returncode == 1 and "is locked by backup (sequential)" in refused.stdout, refused.stdout + refused.stderr
    assert rc == 0, doc
    assert doc["tables"][0]["status"] == "success"
    assert doc["tables"][0]["rows"] == RENTAL_ROWS and doc["tables"][0]["files"] == 161
    wm = _watermark(env, tmp_path, table)
    assert wm["mysql_status"] == "success" and wm["last_error"] is None
    assert wm["cumulative"]["extracted"] == RENTAL_ROWS and wm["files_written_total"] == 161
    assert len(data_keys(s3_client, s3_bucket)) == 161


def test_refused_run_leaves_the_holders_incremental_run_whole(make_env, mysql_server, sakila_db, s3_client, s3_bucket, tmp_path):
    env = _env(make_env, tmp_path, BACKUP_BATCH_SIZE="100")
    table = f"{sakila_db}.rental"
    first = subprocess.run([sys.executable, "-m", "s3rb_tui", "--run", "backup", "-t", table], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    conn = mariadb.connect(mysql_server, sakila_db)
    with conn.cursor() as cur:  # 7,997 rows changed (rental_id has gaps), each at its own time: 80 batches
        cur.execute("UPDATE rental SET last_update = NOW() - INTERVAL 1 DAY + INTERVAL rental_id SECOND WHERE rental_id <= 8000")
        changed = cur.rowcount
    conn.close()
    assert changed == 7997
    refused, rc, doc = _overlap(["--run", "backup", "-t", table, "--json"], ["--run", "backup", "-t", table],
                                env, tmp_path, mysql_server, sakila_db, s3_client, s3_bucket, files_before=161)
    assert refused.returncode == 1 and "is locked by" in refused.stdout
    assert rc == 0, doc
    assert doc["tables"][0]["rows"] == changed and doc["tables"][0]["files"] == 80
    wm = _watermark(env, tmp_path, table)
    assert wm["mysql_status"] == "success" and wm["cumulative"]["extracted"] == RENTAL_ROWS + changed


def test_refused_load_leaves_the_holders_sync_whole(make_env, mysql_server, sakila_db, pg_db, s3_client, s3_bucket, tmp_path):
    """The intruder only loads (``sync --redshift-only``): refused by the lock, it must not mark the
    holder's watermark failed either."""
    env = _env(make_env, tmp_path, BACKUP_BATCH_SIZE="100")
    table = f"{sakila_db}.rental"
    refused, rc, doc = _overlap(["--run", "sync", "-t", table, "--json"], ["--run", "sync", "-t", table, "--redshift-only"],
                                env, tmp_path, mysql_server, sakila_db, s3_client, s3_bucket)
    assert refused.returncode == 1 and "is locked by sync (sequential)" in refused.stdout, refused.stdout + refused.stderr
    assert rc == 0, doc
    assert doc["tables"][0]["status"] == "success" and doc["tables"][0]["rows"] == RENTAL_ROWS
    wm = _watermark(env, tmp_path, table)
    assert (wm["mysql_status"], wm["redshift_status"]) == ("success", "success")
    assert wm["cumulative"] == {"extracted": RENTAL_ROWS, "loaded": RENTAL_ROWS}
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM public.rental")
            assert cur.fetchone()[0] == RENTAL_ROWS
    finally:
        conn.close()


@pytest.mark.parametrize("args", [
    ["watermark", "set", "--timestamp", "2005-01-01 00:00:00", "--force"],
    ["watermark", "reset", "--force"],
    ["watermark-count", "set-count", "--count", "7", "--force"],
])
def test_watermark_changes_are_refused_while_a_run_holds_the_lock(args, run_cli, make_env, sakila_db, s3_bucket):
    """A hand-made watermark change in the middle of a run would break the run's compare-and-swap:
    it waits its turn like a second run (exit 1 naming the holder) and changes nothing."""
    import socket

    from s3rb_tui.engine.state.locks import TableLock
    from s3rb_tui.engine.core.table_names import TableRef
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import load_settings

    env = make_env()
    table = TableRef(sakila_db, "actor")
    assert run_cli("--run", "backup", "-t", table.full_name, env=env).returncode == 0
    ws = Workspace(load_settings(environ=env))
    before = ws.watermarks.read(table)[1]
    lock = TableLock(ws.store, table, purpose="backup (sequential)").acquire()
    try:
        proc = run_cli("--run", args[0], args[1], "-t", table.full_name, *args[2:], env=env)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"is locked by backup (sequential) on host {socket.gethostname()}, pid {os.getpid()}" in proc.stderr
        assert ws.watermarks.read(table)[1] == before  # the holder's document is untouched
    finally:
        lock.release()
    assert run_cli("--run", args[0], args[1], "-t", table.full_name, *args[2:], env=env).returncode == 0
