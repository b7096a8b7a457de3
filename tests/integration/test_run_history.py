"""Run records on real services (issue 15): headless runs on the S3 endpoint (MariaDB Sakila)
write one record each under runs/ (the local-directory store: tests/offline/test_history_demo.py); two runs
in two processes at once are both recorded; a run killed with -9 stays ``running`` until its
heartbeat is stale, then reads ``abandoned``; ``history`` lists, filters and shows them; no secret
reaches a record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import mariadb
from tests.support.waiting import wait_until

SECRET_KEY = "s3rb-Secret/Key+42"
PASSWORD = "Pa55-word-never-shown"


def _history(run_cli, env, *args) -> list | dict:
    proc = run_cli("--run", "history", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _record_texts(s3_client, bucket) -> dict[str, str]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="runs/").get("Contents", [])
    return {o["Key"]: s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listed}


def test_runs_on_s3_are_recorded_listed_and_shown(run_cli, make_env, sakila_shared, s3_client, s3_bucket):
    env = make_env(S3_SECRET_KEY=SECRET_KEY)
    actor, film = f"{sakila_shared}.actor", f"{sakila_shared}.film"
    ok = run_cli("--run", "backup", "-t", actor, "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    run_id = json.loads(ok.stdout)["run_id"]
    failed = run_cli("--run", "backup", "-t", film, env={**env, "DB_PASSWORD": PASSWORD})  # the source refuses the login
    assert failed.returncode == 1
    texts = _record_texts(s3_client, s3_bucket)
    assert len(texts) == 2 and f"runs/{run_id[:4]}/{run_id[4:6]}/{run_id[6:8]}/{run_id}.json" in texts
    assert not any(PASSWORD in t or SECRET_KEY in t for t in texts.values())

    runs = _history(run_cli, env)
    assert [r["status"] for r in runs] == ["failed", "success"]  # newest first
    assert runs[1]["run_id"] == run_id and runs[1]["tables"][0]["rows_extracted"] == 200
    assert runs[1]["trigger"] == "cli" and runs[1]["host"] and runs[1]["pid"] and runs[1]["user"]
    assert runs[0]["tables"][0]["table"] == film and runs[0]["tables"][0]["error"]
    assert [r["status"] for r in _history(run_cli, env, "--failed")] == ["failed"]
    assert [r["tables"][0]["table"] for r in _history(run_cli, env, "-t", actor)] == [actor]
    assert len(_history(run_cli, env, "-t", f"{sakila_shared}.*", "--limit", "1")) == 1
    assert len(_history(run_cli, env, "--since", "1h")) == 2

    text = run_cli("--run", "history", env=env)
    assert text.returncode == 0
    assert "cron@" in text.stdout and "FAILED" in text.stdout and run_id in text.stdout
    one = run_cli("--run", "history", runs[0]["run_id"], env=env)
    assert one.returncode == 0 and f"error {film}:" in one.stdout and "hint: check DB_USER" in one.stdout, one.stdout
    bad = run_cli("--run", "history", "not-a-run", env=env)
    assert bad.returncode == 2 and "is not a run id" in bad.stderr


def test_a_dry_run_leaves_no_record(run_cli, make_env, sakila_shared, s3_client, s3_bucket):
    env = make_env()
    assert run_cli("--run", "backup", "-t", f"{sakila_shared}.actor", "--dry-run", env=env).returncode == 0
    assert _record_texts(s3_client, s3_bucket) == {}


def _popen(args, env, cwd: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "s3rb_tui", *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=(cwd / f"{name}.out").open("w"), stderr=(cwd / f"{name}.err").open("w"))


def _env(make_env, tmp_path, **extra) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", **make_env(**extra)}


def test_two_runs_at_once_from_two_processes_are_both_recorded(run_cli, make_env, sakila_shared, s3_bucket, tmp_path):
    env = _env(make_env, tmp_path, BACKUP_BATCH_SIZE="500")
    procs = [_popen(["--run", "backup", "-t", f"{sakila_shared}.{t}"], env, tmp_path, t) for t in ("rental", "payment")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    runs = _history(run_cli, env)
    assert len({r["run_id"] for r in runs}) == 2 and {r["status"] for r in runs} == {"success"}
    assert sorted(r["tables"][0]["table"] for r in runs) == [f"{sakila_shared}.payment", f"{sakila_shared}.rental"]
    assert len({r["pid"] for r in runs}) == 2


def test_a_run_killed_with_minus_9_turns_abandoned(run_cli, make_env, mysql_server, mysql_db, tmp_path):
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        cur.execute("INSERT INTO t VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-02 00:00:00')")
    conn.commit()
    env = _env(make_env, tmp_path, RUN_HEARTBEAT_SECONDS="1", RUN_ABANDONED_AFTER_SECONDS="15")
    holder = mariadb.connect(mysql_server, mysql_db)
    proc = None
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLES t WRITE")  # the run's first read of t waits here
        proc = _popen(["--run", "backup", "-t", f"{mysql_db}.t"], env, tmp_path, "killed")
        running = wait_until(lambda: [r for r in _history(run_cli, env) if r["status"] == "running"], 120, "the run's record says running")
        assert running[0]["pid"] == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _history(run_cli, env)[0]["status"] == "running"  # its heartbeat is fresh (15 s leaves room for a loaded machine's slow CLI start)
        wait_until(lambda: _history(run_cli, env)[0]["status"] == "abandoned", 60, "the killed run reads abandoned")
        assert [r["status"] for r in _history(run_cli, env, "--failed")] == ["abandoned"]
        shown = run_cli("--run", "history", env=env)
        assert "ABANDONED" in shown.stdout and "no heartbeat since" in shown.stdout
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        with holder.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        holder.close()
        conn.close()

