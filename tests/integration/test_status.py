"""``status`` against real MariaDB, PostgreSQL (as the warehouse), the S3 endpoint and sshd."""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.ops.health import check_all
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.waiting import free_port

pytestmark = pytest.mark.integration


def make_orders(server: dict, db: str, rows: int = 250) -> None:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, note VARCHAR(20))")
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s)",
                        [(i, f"2024-01-01 10:{i // 60 % 60:02d}:{i % 60:02d}", f"n{i}") for i in range(1, rows + 1)])


def checks_by_name(doc: dict) -> dict:
    return {c["name"]: c for c in doc["checks"]}


def test_status_reports_every_part_and_each_table(make_env, mysql_server, mysql_db, pg_db, run_cli):
    make_orders(mysql_server, mysql_db)
    env = make_env(WAREHOUSE_DIALECT="postgres")
    ws = Workspace(build_settings(env))
    try:
        [r] = run_backup(ws, [ws.table_ref("orders")], JobContext("backup"), batch_size=100)
        assert r.status == "success", r.error
    finally:
        ws.close()
    done = run_cli("--run", "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    checks = checks_by_name(doc)
    assert doc["ok"] is True
    assert checks["source"]["ok"] and "MariaDB" in checks["source"]["version"] and checks["source"]["latency_ms"] >= 0
    assert checks["store"]["ok"] and env["S3_BUCKET_NAME"] in checks["store"]["target"]
    assert checks["warehouse"]["ok"] and "PostgreSQL" in checks["warehouse"]["version"]
    assert checks["tunnel:mysql"]["ok"] is None  # no bastion configured: nothing to check
    [table] = doc["tables"]
    assert table["table"] == f"{mysql_db}.orders"
    assert table["last_run_result"] == "success" and table["files"] == 3 and table["bytes"] > 0
    assert table["cumulative"]["extracted"] == 250 and table["session"]["extracted"] == 250
    assert table["last_data_timestamp"].startswith("2024-01-01 10:04:10")
    assert table["lag_seconds"] > 86400  # the data is from 2024
    assert (table["files_waiting"], table["rows_waiting"]) == (3, 250)  # nothing loaded yet

    from s3rb_tui.engine.ops.load import run_load

    ws = Workspace(build_settings(env))
    try:
        [loaded] = run_load(ws, [ws.table_ref("orders")], JobContext("load"))
        assert loaded.ok, loaded.error
        rep = check_all(ws)
        assert rep.ok and (rep.tables[0].files_waiting, rep.tables[0].rows_waiting) == (0, 0)
    finally:
        ws.close()

    human = run_cli("--run", "status", env=env)
    assert human.returncode == 0, human.stderr
    assert "status: OK" in human.stdout and f"{mysql_db}.orders" in human.stdout


def test_a_stopped_source_fails_status_with_its_exact_error(make_env, mysql_db, run_cli):
    closed = free_port()
    env = make_env(DB_PORT=closed)
    done = run_cli("--run", "status", "--json", env=env)
    assert done.returncode == 1
    source = checks_by_name(json.loads(done.stdout))["source"]
    assert source["ok"] is False
    assert f"127.0.0.1:{closed}" in source["error"] and "Connection refused" in source["error"]
    assert source["hint"]
    human = run_cli("--run", "status", env=env)
    assert human.returncode == 1
    assert f"FAILED source: cannot connect to MySQL at 127.0.0.1:{closed}" in human.stdout
    assert "status: FAILED (source)" in human.stdout


def test_a_stopped_warehouse_fails_status(make_env, mysql_db, pg_db, run_cli):
    closed = free_port()
    done = run_cli("--run", "status", "--json", env=make_env(REDSHIFT_PORT=closed, WAREHOUSE_DIALECT="postgres"))
    assert done.returncode == 1
    checks = checks_by_name(json.loads(done.stdout))
    assert checks["source"]["ok"] and checks["store"]["ok"]
    assert checks["warehouse"]["ok"] is False and str(closed) in checks["warehouse"]["error"]


def test_status_through_the_bastion_and_with_the_bastion_down(make_env, sshd, mysql_db, run_cli):
    bastion = dict(SSH_BASTION_HOST=sshd.host, SSH_BASTION_PORT=sshd.port, SSH_BASTION_USER=sshd.user,
                   SSH_BASTION_KEY_PATH=sshd.key_path, SSH_KNOWN_HOSTS=sshd.known_hosts_path, BACKUP_TIMEOUT_SECONDS=5)
    up = run_cli("--run", "status", "--json", env=make_env(**bastion))
    assert up.returncode == 0, up.stderr
    checks = checks_by_name(json.loads(up.stdout))
    assert checks["tunnel:mysql"]["ok"] and checks["tunnel:mysql"]["version"].startswith("SSH-2.0-OpenSSH")
    assert checks["source"]["ok"] and f"via bastion {sshd.host}" in checks["source"]["target"]

    closed = free_port()
    down = run_cli("--run", "status", "--json", env=make_env(**{**bastion, "SSH_BASTION_PORT": closed}))
    assert down.returncode == 1
    checks = checks_by_name(json.loads(down.stdout))
    assert checks["tunnel:mysql"]["ok"] is False and f"{sshd.host}:{closed}" in checks["tunnel:mysql"]["error"]
    assert checks["source"]["ok"] is False
