"""``sync --redshift-only`` after ``watermark set`` loads only the committed files written at or
after the manual timestamp (the manual's troubleshooting recipe), and keeps the manual watermark."""

from __future__ import annotations

import json

from tests.support import mariadb, postgres
from tests.support.backups import wait_for_next_second


def test_redshift_only_honours_a_manual_watermark(sakila_db, pg_db, mysql_server, make_env, run_cli, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}")
    assert run_cli("--run", "sync", "-t", "actor", "--backup-only", env=env).returncode == 0
    conn = mariadb.connect(mysql_server, sakila_db)
    with conn.cursor() as cur:
        cur.execute("UPDATE actor SET first_name = 'LATER', last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id <= 4")
    conn.close()
    wait_for_next_second(mysql_server)  # last_update has whole seconds: a run takes a second once it is over
    assert run_cli("--run", "sync", "-t", "actor", "--backup-only", env=env).returncode == 0
    files = sorted(p.name for p in store.rglob("*.parquet"))
    assert len(files) == 2
    second_run = files[1].split("_batch_")[0]  # YYYY-MM-DD_HH-MM-SS of the second backup
    moment = second_run[:10] + " " + second_run[11:].replace("-", ":")

    done = run_cli("--run", "watermark", "set", "-t", "actor", "--timestamp", moment, "--force", env=env)
    assert done.returncode == 0, done.stderr
    loaded = run_cli("--run", "sync", "-t", "actor", "--redshift-only", "--json", env=env)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert json.loads(loaded.stdout)["tables"][0]["rows"] == 4  # only the second run's file
    pg = postgres.connect(pg_db, pg_db["dbname"])
    with pg.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(*) FILTER (WHERE first_name = 'LATER') FROM public.actor")
        assert cur.fetchone() == (4, 4)
    pg.close()
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "actor", "--json", env=env).stdout)
    assert wm["backup_strategy"] == "manual_cli" and wm["manual_timestamp"]
    assert "files after" in loaded.stderr  # the log line the manual tells operators to look for
