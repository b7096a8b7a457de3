"""Values a warehouse cannot hold as MySQL does (issue 18): NUL in text, "\\u0000" and duplicate keys
in JSON, DECIMAL wider than 38 digits. Real MariaDB -> store -> PostgreSQL / DuckDB, both
extraction paths; the policy per warehouse is in ``engine/warehouses/values.py``."""

from __future__ import annotations

import json

import pytest

from tests.support.redshift_standin import standin  # noqa: F401  (fixture)
from tests.support.warehouse import Warehouse
from tests.support import mariadb

PATHS = ["pymysql", "fast"]
DDL = "CREATE TABLE vals (id INT PRIMARY KEY, t TEXT, j JSON, d DECIMAL(65,30), updated_at DATETIME(6) NOT NULL)"
ROWS = [
    (1, "a\x00b", '{"k": 1, "k": 2}', "0.000000000000000000000000000001"),
    (2, "plain", '{"s": "x\\u0000y", "n": [1, {"m": "\\u0000"}]}', "1.5"),
    (3, "clean", '{"k": 3}', "-99999999999999999999999999999999999.999999999999999999999999999999"),
]


def insert(server, db, rows):
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO vals VALUES (%s, %s, %s, %s, NOW(6)) ON DUPLICATE KEY UPDATE t = VALUES(t), updated_at = NOW(6)", rows)
    finally:
        conn.close()


@pytest.mark.parametrize("path", PATHS)
def test_nul_and_json_keys_load_into_postgresql_by_a_stated_rule(path, mysql_db, mysql_server, pg_db, make_env, run_cli, tmp_path, request):
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute(DDL)
        cur.execute("SELECT JSON_VALUE('{\"k\": 1, \"k\": 2}', '$.k')")
        assert cur.fetchone() == ("1",)  # what MySQL reads: the first of duplicate keys
    conn.close()
    insert(mysql_server, mysql_db, ROWS)
    (tmp_path / "store").mkdir()
    wh = Warehouse("postgres", tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path)
    done = run_cli("--run", "sync", "-t", "vals", "--json", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warnings = json.loads(done.stdout)["tables"][0]["warnings"]
    table = f"{mysql_db}.vals"
    assert any(w.startswith("public.vals column t: 1 value(s) held NUL bytes") and "id=1" in w for w in warnings), warnings
    assert any("column j: 1 value(s) had duplicate JSON keys: loaded with the first value" in w and "id=1" in w for w in warnings), warnings
    assert any("column j: 1 value(s) had \\u0000 in JSON strings" in w and "id=2" in w for w in warnings), warnings
    assert wh.q("SELECT id, t, j->>'k', j->>'s', j#>>'{n,1,m}' FROM public.vals ORDER BY id") == [
        (1, "a\ufffdb", "1", None, None), (2, "plain", None, "x\ufffdy", "\ufffd"), (3, "clean", "3", None, None)]

    # the table is never stuck: a later clean row and a later bad one both load
    insert(mysql_server, mysql_db, [(4, "later", '{"ok": true}', "2"), (1, "again\x00", '{"k": 1, "k": 2}', "1")])
    later = run_cli("--run", "sync", "-t", "vals", env=env)
    assert later.returncode == 0, later.stdout[-3000:] + later.stderr[-3000:]
    assert f"warning {table}: public.vals column t: 1 value(s) held NUL bytes" in later.stdout
    assert wh.q("SELECT id, t FROM public.vals WHERE id IN (1, 4) ORDER BY id") == [(1, "again\ufffd"), (4, "later")]


@pytest.mark.parametrize("path", PATHS)
def test_duckdb_holds_them_exactly_and_wide_decimals_have_one_spelling(path, mysql_db, mysql_server, make_env, run_cli, tmp_path, request):
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute(DDL)
    conn.close()
    insert(mysql_server, mysql_db, ROWS)
    (tmp_path / "store").mkdir()
    wh = Warehouse("duckdb", tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path, **wh.env)
    done = run_cli("--run", "sync", "-t", "vals", "--json", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(done.stdout)["tables"][0]["warnings"] == []
    assert wh.q("SELECT id, t, j->>'k', j->>'s', d FROM public.vals ORDER BY id") == [
        (1, "a\x00b", "1", None, "0.000000000000000000000000000001"),
        (2, "plain", None, "x\x00y", "1.500000000000000000000000000000"),
        (3, "clean", "3", None, "-99999999999999999999999999999999999.999999999999999999999999999999")]


@pytest.mark.parametrize("path", PATHS)
def test_redshift_gets_text_with_nul_by_the_text_rule_from_the_files_footer(path, standin, mysql_db, mysql_server, pg_db, make_env, run_cli):
    """Redshift COPYs Parquet straight from S3 and fails on NUL: the backup marks the file's footer,
    and the loader sends that file by its CSV method through the text rule."""
    from s3rb_tui.engine.ops.load import load_table
    from s3rb_tui.engine.warehouses.files import footer
    from tests.support import postgres

    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (id INT PRIMARY KEY, t VARCHAR(20), clean VARCHAR(20), updated_at DATETIME(6) NOT NULL)")
        cur.executemany("INSERT INTO notes VALUES (%s, %s, 'ok', NOW(6))", [(1, "a\x00b"), (2, "fine")])
    conn.close()
    env = make_env(EXTRACT_ENGINE=path)
    backed = run_cli("--run", "backup", "-t", "notes", env=env)
    assert backed.returncode == 0, backed.stdout[-2000:] + backed.stderr[-2000:]
    ws, ctx, _ = standin(EXTRACT_ENGINE=path)
    ref = ws.table_ref("notes")
    keys = [i.key for i in ws.store.list(f"incremental/{ref.full_name}/") if i.key.endswith(".parquet")]
    assert [footer(ws.store, k).nul_text for k in keys] == [("t",)]
    result = load_table(ws, ref, ctx, run_id="r1")
    assert result.status == "success", result.error
    assert any("public.notes column t: 1 value(s) held NUL bytes, which Redshift text cannot" in w and "id=1" in w for w in result.warnings)
    conn = postgres.connect(pg_db, pg_db["dbname"])
    with conn.cursor() as cur:
        cur.execute("SELECT id, t, clean FROM public.notes ORDER BY id")
        assert cur.fetchall() == [(1, "a\ufffdb", "ok"), (2, "fine", "ok")]
    conn.close()
