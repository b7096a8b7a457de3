"""Cron edges of issue 13 on real services (MariaDB Sakila, S3 endpoint, PostgreSQL): ``status``
exits 1 naming a table whose last run failed, a named table that does not exist is not "OK",
and ``--readonly`` keeps the dry run, which writes nothing to the store or the warehouse."""

from __future__ import annotations

import json

from tests.support import postgres
from tests.support.waiting import free_port


def test_status_exits_1_naming_a_table_whose_last_run_failed(run_cli, make_env, sakila_shared):
    env = make_env()
    table = f"{sakila_shared}.actor"
    assert run_cli("--run", "backup", "-t", table, env=env).returncode == 0
    assert run_cli("--run", "status", "-t", table, env=env).returncode == 0
    # the load step fails (no warehouse listens there): the table's last run failed
    down = make_env(REDSHIFT_HOST="127.0.0.1", REDSHIFT_PORT=str(free_port()), WAREHOUSE_DIALECT="postgres")
    assert run_cli("--run", "sync", "-t", table, env=down).returncode == 1
    text = run_cli("--run", "status", "-t", table, env=env)
    assert text.returncode == 1, text.stdout  # was 0: "status: OK"
    assert f"FAILED {table}: its last run failed" in text.stdout
    assert f"status: FAILED (last run of {table})" in text.stdout
    doc = json.loads(run_cli("--run", "status", "--json", env=env).stdout)
    assert doc["ok"] is False and doc["failed_tables"] == [table]
    # the next good run clears it
    assert run_cli("--run", "backup", "-t", table, env=env).returncode == 0
    assert run_cli("--run", "status", "-t", table, env=env).returncode == 0


def test_status_of_a_table_the_source_does_not_have_is_not_ok(run_cli, make_env, sakila_shared):
    env = make_env()
    missing = run_cli("--run", "status", "-t", f"{sakila_shared}.nosuch", env=env)
    assert missing.returncode == 1, missing.stdout  # was: "status: OK"
    assert f"{sakila_shared}.nosuch is not a table of the source" in missing.stdout
    assert "status: OK" not in missing.stdout
    never = run_cli("--run", "status", "-t", f"{sakila_shared}.film", "--json", env=env)
    assert never.returncode == 0, never.stdout
    assert json.loads(never.stdout)["tables"][0]["last_run_result"] == "never backed up"


def test_readonly_dry_run_of_a_sync_writes_nothing_anywhere(run_cli, make_env, sakila_shared, pg_db, s3_client, s3_bucket):
    env = make_env()
    dry = run_cli("--readonly", "--run", "sync", "-t", f"{sakila_shared}.rental", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout)["tables"][0]["status"] == "dry run"
    refused = run_cli("--run", "sync", "-t", f"{sakila_shared}.rental", "--readonly", env=env)
    assert refused.returncode == 2 and "--readonly: sync would change state; nothing changed" in refused.stderr
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
