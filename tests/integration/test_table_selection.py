"""Choosing tables (issue 13): ``-t`` globs, ``--all`` and DB_SCHEMAS, the ``tables`` command and
``engine.catalog.readable_schemas`` against a real MariaDB (Sakila), a real S3 endpoint and, for
the privilege check, a MariaDB user that may read one schema only."""

from __future__ import annotations

import json
import uuid

import pytest

from s3rb_tui.engine.wiring.catalog import readable_schemas
from s3rb_tui.engine.sources.mysql import MySQLSource
from tests.support import mariadb

BASE = mariadb.SAKILA_BASE_TABLES
VIEWS = ("actor_info", "customer_list", "film_list", "nicer_but_slower_film_list", "sales_by_film_category",
         "sales_by_store", "staff_list")


def dry_run_tables(run_cli, env, *args) -> tuple[int, list[str], str]:
    proc = run_cli("--run", "backup", *args, "--dry-run", "--json", env=env)
    if proc.returncode != 0 or not proc.stdout.strip().startswith("{"):
        return proc.returncode, [], proc.stderr
    return proc.returncode, [t["table"] for t in json.loads(proc.stdout)["tables"]], proc.stderr


def test_globs_select_base_tables_in_order_views_only_by_name(run_cli, make_env, sakila_shared):
    env = make_env()
    db = sakila_shared
    rc, tables, err = dry_run_tables(run_cli, env, "-t", f"{db}.*")
    assert rc == 0, err
    assert tables == [f"{db}.{t}" for t in sorted(BASE)]  # 16 base tables, no view
    rc, tables, err = dry_run_tables(run_cli, env, "-t", f"{db}.film*", "-t", "actor", "-t", f"{db}.film")
    assert rc == 0, err
    assert tables == [f"{db}.film", f"{db}.film_actor", f"{db}.film_category", f"{db}.film_text", f"{db}.actor"]
    rc, tables, err = dry_run_tables(run_cli, env, "-t", "?ity")  # unscoped: DB_DATABASE
    assert (rc, tables) == (0, [f"{db}.city"]), err
    rc, tables, err = dry_run_tables(run_cli, env, "-t", f"{db}.actor_info")  # a view, named
    assert (rc, tables) == (0, [f"{db}.actor_info"]), err


def test_all_takes_db_database_or_the_schemas_of_db_schemas(run_cli, make_env, sakila_shared, mysql_server, request):
    other = f"s3rbt_sel_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(mysql_server, other)
    request.addfinalizer(lambda: mariadb.drop_database(mysql_server, other))
    with mariadb.connect(mysql_server, other) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE settle_a (id INT PRIMARY KEY, updated_at DATETIME)")
        cur.execute("CREATE TABLE settle_b (id INT PRIMARY KEY, updated_at DATETIME)")
        cur.execute("CREATE VIEW settle_v AS SELECT * FROM settle_a")
    rc, tables, err = dry_run_tables(run_cli, make_env(), "--all")
    assert rc == 0, err
    assert tables == [f"{sakila_shared}.{t}" for t in sorted(BASE)]
    rc, tables, err = dry_run_tables(run_cli, make_env(DB_SCHEMAS=f"{other}, {sakila_shared}"), "--all")
    assert rc == 0, err
    assert tables == [f"{other}.settle_a", f"{other}.settle_b"] + [f"{sakila_shared}.{t}" for t in sorted(BASE)]
    rc, tables, err = dry_run_tables(run_cli, make_env(), "-t", f"{other}.settle*")
    assert (rc, tables) == (0, [f"{other}.settle_a", f"{other}.settle_b"]), err


@pytest.mark.parametrize("args,needle", [
    (["-t", "{db}.nosuch*"], "no base table matches '{db}.nosuch*'"),
    (["-t", "{db}.f;*"], "invalid table pattern"),
    (["--all", "-t", "{db}.actor"], "--all and -t exclude each other"),
])
def test_a_selection_that_cannot_work_is_exit_2_and_writes_nothing(args, needle, run_cli, make_env, sakila_shared, s3_client, s3_bucket):
    args = [a.format(db=sakila_shared) for a in args]
    proc = run_cli("--run", "backup", *args, env=make_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle.format(db=sakila_shared) in proc.stderr
    assert len([l for l in proc.stderr.splitlines() if l.startswith("s3rb-tui: error:")]) == 1
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_all_without_any_schema_is_exit_2(run_cli, make_env, sakila_shared):
    proc = run_cli("--run", "sync", "--all", env=make_env(DB_DATABASE=None))
    assert proc.returncode == 2 and "--all needs DB_SCHEMAS or DB_DATABASE" in proc.stderr


def test_tables_command_lists_schemas_with_tables_and_views(run_cli, make_env, sakila_shared):
    proc = run_cli("--run", "tables", "--json", env=make_env())
    assert proc.returncode == 0, proc.stderr
    schemas = {s["schema"]: s for s in json.loads(proc.stdout)["schemas"]}
    assert not {"mysql", "information_schema", "performance_schema", "sys"} & set(schemas)
    mine = schemas[sakila_shared]
    assert mine["in_all"] is True
    views = {t["table"].split(".")[1] for t in mine["tables"] if t["view"]}
    bases = {t["table"].split(".")[1] for t in mine["tables"] if not t["view"]}
    assert (bases, views) == (set(BASE), set(VIEWS))
    text = run_cli("--run", "tables", "-t", f"{sakila_shared}.film*", env=make_env())
    assert text.returncode == 0, text.stderr
    assert f"{sakila_shared}: 4 base table(s), 0 view(s)  (--all)" in text.stdout
    assert "film_text" in text.stdout and "\nactor " not in text.stdout and "rental" not in text.stdout


def test_readable_schemas_lists_only_what_the_user_may_read(mysql_server, sakila_shared):
    user = f"s3rbt_{uuid.uuid4().hex[:8]}"
    with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
        cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-{user}'")
        for host in ("%", "localhost"):
            cur.execute(f"GRANT SELECT ON `{sakila_shared}`.* TO '{user}'@'{host}'")
    try:
        source = MySQLSource(mysql_server["host"], mysql_server["port"], user, f"pw-{user}")
        with source:
            found = readable_schemas(source)
        assert [s.schema for s in found] == [sakila_shared]
        assert {t.name for t in found[0].base_tables} == set(BASE)
        assert {t.ref.name for t in found[0].tables if t.is_view} == set(VIEWS)
    finally:
        with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")


def test_status_globs_fall_back_to_the_stores_tables_when_the_source_is_down(run_cli, make_env, sakila_shared):
    env = make_env(BACKUP_BATCH_SIZE="5000")
    done = run_cli("--run", "backup", "-t", f"{sakila_shared}.actor", "-t", f"{sakila_shared}.address", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    proc = run_cli("--run", "status", "-t", f"{sakila_shared}.a*", "--json", env={**env, "DB_PORT": "1"})
    doc = json.loads(proc.stdout)
    assert [t["table"] for t in doc["tables"]] == [f"{sakila_shared}.actor", f"{sakila_shared}.address"]
