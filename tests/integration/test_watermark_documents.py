"""Watermark documents against real MariaDB: a position that does not parse is refused with the
fix in the message (never a silent re-extraction), and a watermark set into the future warns —
in ``watermark set``'s plan, in every run (both extraction paths), and through the engine
function the console's watermark wizard calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3rb_tui.engine.ops.watermark_changes import ahead_of_source
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.backups import ENGINES

pytestmark = pytest.mark.integration


def make_table(server: dict, db: str) -> None:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, KEY (updated_at, id))")
        cur.execute("INSERT INTO t VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-02 00:00:00'), (3, '2024-01-03 00:00:00')")


def data_files(store: Path) -> list[str]:
    return sorted(p.name for p in store.rglob("*.parquet"))


@pytest.mark.parametrize(("field", "value", "named"), [
    ("last_data_timestamp", "yesterday", "last_data_timestamp 'yesterday'"),
    ("last_data_timestamp", "2024-13-45 10:00:00", "last_data_timestamp '2024-13-45 10:00:00'"),
    ("last_key", ["two"], "last_key value of id 'two'"),
    ("last_key", "2", "last_key '2'"),
    ("last_key", [2, 3], "last_key '[2, 3]'"),
])
def test_a_position_that_does_not_parse_is_refused_with_the_fix(field, value, named, run_cli, make_env, mysql_server,
                                                                 mysql_db, tmp_path):
    make_table(mysql_server, mysql_db)
    store = tmp_path / "store"
    env = make_env(STORE_URL=f"file://{store}")
    assert run_cli("--run", "backup", "-t", "t", env=env).returncode == 0
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (4, '2024-01-04 00:00:00')")
    doc_path = store / "watermark" / f"{mysql_db}.t.json"
    doc = json.loads(doc_path.read_text())
    doc[field] = value  # edited by hand
    doc_path.write_text(json.dumps(doc))
    before = data_files(store)
    done = run_cli("--run", "backup", "-t", "t", "--json", env=env)
    assert done.returncode == 1, done.stdout
    [table] = json.loads(done.stdout)["tables"]
    assert table["status"] == "failed" and named in table["error"] and "nothing was read" in table["error"]
    assert "watermark set" in table["hint"] and "watermark reset" in table["hint"]
    assert data_files(store) == before  # nothing extracted
    assert json.loads(doc_path.read_text())[field] == value  # the position is left for the operator to fix


@pytest.mark.parametrize("engine", ENGINES)
def test_a_watermark_set_into_the_future_warns_in_the_plan_and_every_run(engine, run_cli, make_env, mysql_server,
                                                                          mysql_db, tmp_path):
    make_table(mysql_server, mysql_db)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    assert run_cli("--run", "backup", "-t", "t", "--extract-engine", engine, env=env).returncode == 0
    plan = run_cli("--run", "watermark", "set", "-t", "t", "--timestamp", "2099-01-01 00:00:00", "--dry-run", env=env)
    assert plan.returncode == 0, plan.stderr
    assert "warning: the watermark (2099-01-01 00:00:00) is ahead of the newest updated_at in the source (2024-01-03 00:00:00)" in plan.stdout
    assert run_cli("--run", "watermark", "set", "-t", "t", "--timestamp", "2099-01-01 00:00:00", "--force", env=env).returncode == 0
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (4, NOW())")
    for _ in range(2):
        done = run_cli("--run", "backup", "-t", "t", "--extract-engine", engine, "--json", env=env)
        assert done.returncode == 0, done.stderr
        [table] = json.loads(done.stdout)["tables"]
        assert table["rows"] == 0
        assert any(w.startswith("the watermark (2099-01-01 00:00:00) is ahead of the newest updated_at") for w in table["warnings"])


def test_the_wizard_asks_the_engine_whether_a_timestamp_is_ahead_of_the_source(make_env, mysql_server, mysql_db, tmp_path):
    make_table(mysql_server, mysql_db)
    ws = Workspace(build_settings(make_env(STORE_URL=f"file://{tmp_path / 'store'}")))
    try:
        table = ws.table_ref("t")
        ahead = ahead_of_source(ws, table, "2099-01-01 00:00:00")
        assert ahead is not None and "ahead of the newest updated_at in the source (2024-01-03 00:00:00)" in ahead
        assert ahead_of_source(ws, table, "2024-01-02 00:00:00") is None
        assert ahead_of_source(ws, table, "2024-06-01 00:00:00") is None  # after the newest row, not after the clock
    finally:
        ws.close()
