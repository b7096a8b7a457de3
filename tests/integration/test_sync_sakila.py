"""End to end on Sakila: MariaDB -> S3 (moto) -> PostgreSQL as the warehouse, through the CLI.

The check is independent of the loader: rows are read back from both databases with their own
drivers and compared value for value, per primary key, against the newest version in the
warehouse (DISTINCT ON the key, newest cursor first).
"""

from __future__ import annotations

import datetime as dt
import json

from tests.support import mariadb, postgres
from tests.support.backups import wait_for_next_second

SAKILA_TABLES = mariadb.SAKILA_BASE_TABLES


def mysql_rows(server: dict, db: str, table: str) -> tuple[list[str], list[str], dict]:
    """(columns, primary key, {key: values}) straight from MariaDB (UTC session; geometry as WKB)."""
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION",
                (db, table),
            )
            cols = cur.fetchall()
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
                "AND CONSTRAINT_NAME='PRIMARY' ORDER BY ORDINAL_POSITION",
                (db, table),
            )
            pk = [r[0] for r in cur.fetchall()]
            exprs = [f"ST_AsBinary(`{c}`)" if t == "geometry" else f"`{c}`" for c, t in cols]
            cur.execute(f"SELECT {', '.join(exprs)} FROM `{table}`")
            names = [c for c, _ in cols]
            rows = {tuple(r[names.index(k)] for k in pk): tuple(normalize(v) for v in r) for r in cur.fetchall()}
    finally:
        conn.close()
    return names, pk, rows


def pg_rows(pg: dict, table: str, names: list[str], pk: list[str], cursor: str | None) -> dict:
    """{key: values} of the newest version per key in the warehouse table."""
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            select = ", ".join(f'"{c}"' for c in names)
            keys = ", ".join(f'"{k}"' for k in pk)
            order = keys + (f', "{cursor}" DESC' if cursor else "")
            cur.execute(f'SELECT DISTINCT ON ({keys}) {select} FROM public."{table}" ORDER BY {order}')
            return {tuple(r[names.index(k)] for k in pk): tuple(normalize(v) for v in r) for r in cur.fetchall()}
    finally:
        conn.close()


def normalize(v):
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def assert_tables_equal(server: dict, db: str, pg: dict, tables=SAKILA_TABLES) -> None:
    for table in tables:
        names, pk, expected = mysql_rows(server, db, table)
        cursor = "last_update" if "last_update" in names else None
        actual = pg_rows(pg, table, names, pk, cursor)
        assert actual.keys() == expected.keys(), f"{table}: keys differ: missing {sorted(expected.keys() - actual.keys())[:5]}, extra {sorted(actual.keys() - expected.keys())[:5]}"
        for key, row in expected.items():
            assert actual[key] == row, f"{table} {key}: warehouse {actual[key]} != source {row}"


def pg_scalar(pg: dict, sql: str):
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def change_sakila(server: dict, db: str) -> None:
    """Updates (bumping last_update) and inserts across several tables, including a snapshot table's source."""
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE actor SET first_name = 'ZOË', last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id IN (1, 2, 3)")
            cur.execute("INSERT INTO actor (first_name, last_name) VALUES ('NEW', 'ACTOR'), ('ÅSA', 'ÖBERG')")
            cur.execute("UPDATE payment SET amount = amount + 1.01, last_update = NOW() - INTERVAL 1 SECOND WHERE payment_id <= 50")
            cur.execute("UPDATE customer SET email = NULL, active = 0, last_update = NOW() - INTERVAL 1 SECOND WHERE customer_id = 7")
            cur.execute("UPDATE film SET description = 'changed', special_features = 'Trailers,Commentaries', last_update = NOW() - INTERVAL 1 SECOND WHERE film_id = 10")
            cur.execute("INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) VALUES ('2026-01-01 10:00:00', 1, 1, 1)")
            cur.execute("UPDATE staff SET picture = UNHEX('00FF10'), last_update = NOW() - INTERVAL 1 SECOND WHERE staff_id = 2")
    finally:
        conn.close()
    wait_for_next_second(server)  # last_update has whole seconds: a run takes a second once it is over


def test_sakila_sync_twice_matches_mysql_value_for_value(sakila_db, pg_db, mysql_server, make_env, run_cli):
    env = make_env(BACKUP_BATCH_SIZE="4000")
    args = [a for t in SAKILA_TABLES for a in ("-t", t)]

    first = run_cli("--run", "sync", *args, "--json", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["success"] and len(summary["tables"]) == 16
    loaded = {t["table"].split(".")[1]: t["rows"] for t in summary["tables"]}
    assert loaded["rental"] == 16044 and loaded["payment"] == 16049 and loaded["film_text"] == 1000
    assert_tables_equal(mysql_server, sakila_db, pg_db)

    change_sakila(mysql_server, sakila_db)
    second = run_cli("--run", "sync", *args, "-s", "inter-table", "--json", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    by_table = {t["table"].split(".")[1]: t for t in json.loads(second.stdout)["tables"]}
    assert by_table["actor"]["rows"] == 5 and by_table["payment"]["rows"] == 50
    assert by_table["language"]["status"] == "no new data"
    assert_tables_equal(mysql_server, sakila_db, pg_db)
    # merge kept one row per key; the ledger has each file once
    assert pg_scalar(pg_db, 'SELECT COUNT(*) FROM public.payment') == 16049
    assert pg_scalar(pg_db, 'SELECT COUNT(*) - COUNT(DISTINCT file_key) FROM public.s3rb_load_ledger') == 0

    counts = run_cli("--run", "watermark-count", "validate-counts", *args, "--json", env=env)
    assert counts.returncode == 0, counts.stdout[-3000:] + counts.stderr[-2000:]
    report = json.loads(counts.stdout)
    assert report["ok"] and all(not t["unexpected"] for t in report["tables"])

    # A row deleted in the warehouse behind the pipeline's back is flagged.
    conn = postgres.connect(pg_db, pg_db["dbname"])
    with conn.cursor() as cur:
        cur.execute("DELETE FROM public.actor WHERE actor_id = 42")
    conn.close()
    flagged = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env)
    assert flagged.returncode == 1
    assert "UNEXPECTED" in flagged.stdout and "missing in the warehouse" in flagged.stdout
