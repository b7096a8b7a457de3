"""Rows a watermark cannot see are counted and reported every run, against real MariaDB on both
extraction paths: future cursors (now + 10 min, 9999-12-31) and NULL cursors after the first
backup — in the job summary (``--json``), in ``status`` and in the console's read model."""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.read_models import read_dashboard
from tests.support import mariadb
from tests.support.backups import ENGINES

pytestmark = pytest.mark.integration


def sql(server: dict, db: str, *statements: str) -> None:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        for s in statements:
            cur.execute(s)


def backup_json(run_cli, env: dict, engine: str) -> dict:
    done = run_cli("--run", "backup", "-t", "t", "--extract-engine", engine, "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["tables"][0]


def dashboard_state(env: dict, table: str):
    ws = Workspace(build_settings(env))
    try:
        tables = read_dashboard(ws).tables
    finally:
        ws.close()
    return next(t for t in tables if t.table == table)


@pytest.mark.parametrize("engine", ENGINES)
def test_future_cursors_are_counted_and_reported_every_run(engine, run_cli, make_env, mysql_server, mysql_db, tmp_path):
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, KEY (updated_at, id))",
        "INSERT INTO t VALUES (1, '2024-01-01 00:00:00'), (2, NOW() + INTERVAL 10 MINUTE), (3, '9999-12-31 00:00:00')")
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    for run in ("first", "second"):
        table = backup_json(run_cli, env, engine)
        assert table["rows"] == (1 if run == "first" else 0)
        [warning] = [w for w in table["warnings"] if "later than the source's clock" in w]
        assert warning.startswith("2 rows have updated_at later") and "9999-12-31" in warning
        assert table["details"]["cursor_census"]["future_rows"] == 2
    status = run_cli("--run", "status", "-t", "t", "--json", env=env)
    [st] = json.loads(status.stdout)["tables"]
    assert st["future_cursor_rows"] == 2 and any("later than the source's clock" in w for w in st["cursor_warnings"])
    text = run_cli("--run", "status", "-t", "t", env=env).stdout
    assert "2 rows have updated_at later than the source's clock" in text
    state = dashboard_state(env, f"{mysql_db}.t")
    assert state.future_cursor_rows == 2 and state.cursor_warnings


@pytest.mark.parametrize("engine", ENGINES)
def test_null_cursors_after_the_first_backup_are_counted_every_run(engine, run_cli, make_env, mysql_server, mysql_db, tmp_path):
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NULL, KEY (updated_at, id))",
        "INSERT INTO t VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-02 00:00:00')")
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    first = backup_json(run_cli, env, engine)
    assert first["rows"] == 2 and first["warnings"] == []
    sql(mysql_server, mysql_db, "INSERT INTO t VALUES (3, NULL), (4, NULL)")
    for _ in range(2):  # every run, not once
        table = backup_json(run_cli, env, engine)
        [warning] = [w for w in table["warnings"] if "NULL updated_at" in w]
        assert warning.startswith("2 rows have a NULL updated_at") and "not backed up" in warning
    [st] = json.loads(run_cli("--run", "status", "-t", "t", "--json", env=env).stdout)["tables"]
    assert st["null_cursor_rows"] == 2
    assert dashboard_state(env, f"{mysql_db}.t").null_cursor_rows == 2
