"""Schema evolution: a column added in MariaDB appears in the warehouse (old rows NULL); a changed
column type stops the table with a clear message and loads nothing until the warehouse is fixed."""

from __future__ import annotations

from tests.support import mariadb, postgres
from tests.support.backups import wait_for_next_second


def q(pg: dict, sql: str):
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def mysql(server: dict, db: str, *statements: str) -> None:
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


def test_added_column_appears_and_type_change_stops_the_table(sakila_db, pg_db, mysql_server, make_env, run_cli, tmp_path):
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    (tmp_path / "store").mkdir()
    first = run_cli("--run", "sync", "-t", "actor", env=env)
    assert first.returncode == 0, first.stderr[-2000:]

    mysql(mysql_server, sakila_db,
          "ALTER TABLE actor ADD COLUMN nickname VARCHAR(20) NULL",
          "UPDATE actor SET nickname = 'Bud', last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id = 5")
    wait_for_next_second(mysql_server)  # last_update has whole seconds: a run takes a second once it is over
    second = run_cli("--run", "sync", "-t", "actor", env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "added column nickname" in second.stdout
    assert q(pg_db, "SELECT data_type, character_maximum_length FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = 'actor' AND column_name = 'nickname'") == [("character varying", 20)]
    assert q(pg_db, "SELECT COUNT(*), COUNT(nickname) FROM public.actor") == [(200, 1)]
    assert q(pg_db, "SELECT nickname FROM public.actor WHERE actor_id = 5") == [("Bud",)]

    ledger_before = q(pg_db, "SELECT COUNT(*) FROM public.s3rb_load_ledger")
    mysql(mysql_server, sakila_db,
          "ALTER TABLE actor MODIFY first_name VARCHAR(100) NOT NULL",
          "UPDATE actor SET first_name = 'LONGER NAME', last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id = 6")
    wait_for_next_second(mysql_server)
    third = run_cli("--run", "sync", "-t", "actor", env=env)
    assert third.returncode == 1
    assert "first_name: warehouse has character varying(45), the source needs character varying(100)" in third.stdout
    assert "never cast silently" in third.stdout
    assert q(pg_db, "SELECT COUNT(*) FROM public.s3rb_load_ledger") == ledger_before
    assert q(pg_db, "SELECT first_name FROM public.actor WHERE actor_id = 6") != [("LONGER NAME",)]

    # The operator widens the warehouse column; the next run loads the waiting files.
    q(pg_db, "ALTER TABLE public.actor ALTER COLUMN first_name TYPE VARCHAR(100)")
    fourth = run_cli("--run", "sync", "-t", "actor", "--redshift-only", env=env)
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr[-2000:]
    assert q(pg_db, "SELECT first_name FROM public.actor WHERE actor_id = 6") == [("LONGER NAME",)]


def test_redshift_only_without_the_source_uses_the_parquet_schema(sakila_db, pg_db, make_env, run_cli, tmp_path):
    from tests.support.waiting import free_port

    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    assert run_cli("--run", "sync", "-t", "actor", "--backup-only", env=env).returncode == 0
    offline = dict(env, DB_PORT=str(free_port()))
    refused = run_cli("--run", "sync", "-t", "actor", "--redshift-only", env=offline)
    assert refused.returncode == 1 and "source is not reachable" in refused.stdout and "load_mode" in refused.stdout
    assert q(pg_db, "SELECT to_regclass('public.actor')") == [(None,)]

    config = tmp_path / "s3rb.toml"
    config.write_text(f'[tables."{sakila_db}.actor"]\nload_mode = "merge"\nkey_columns = ["actor_id"]\ncursor_column = "last_update"\n')
    loaded = run_cli("--run", "sync", "-t", "actor", "--redshift-only", env=dict(offline, S3RB_CONFIG=str(config)))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr[-2000:]
    assert "using the Parquet schema" in loaded.stderr
    assert q(pg_db, "SELECT COUNT(*), COUNT(DISTINCT actor_id), MIN(first_name) FROM public.actor") == [(200, 200, "ADAM")]
