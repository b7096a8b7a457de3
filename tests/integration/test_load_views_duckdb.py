"""Append mode, the ``<table>_latest`` view and the manual's settlement views, on DuckDB and on
PostgreSQL; plus a merge table next to them (DuckDB end to end)."""

from __future__ import annotations

import json

import pytest

from tests.support.warehouse import Warehouse, mysql
from tests.support.backups import wait_for_next_second

SETTLEMENT_DDL = """
CREATE TABLE settlement_normal_delivery_detail (
  ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ant_parcel_no VARCHAR(40) NOT NULL,
  partner_id BIGINT,
  latest_status VARCHAR(20),
  net_price DECIMAL(10,2),
  payload JSON,
  handling TIME,
  sig BLOB,
  create_at DATETIME NOT NULL,
  update_at DATETIME(6) NOT NULL
)"""


def events(rows):
    values = ", ".join(
        f"('{p}', {partner}, '{status}', {price}, '{{\"n\": {i}}}', '{i}:30:00', UNHEX('0A0B{i:02d}'), '2025-08-01 10:00:00', '{ts}')"
        for i, (p, partner, status, price, ts) in enumerate(rows)
    )
    return ("INSERT INTO settlement_normal_delivery_detail (ant_parcel_no, partner_id, latest_status, net_price, payload, handling, sig, create_at, update_at) "
            f"VALUES {values}")


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_append_latest_and_settlement_views(dialect, sakila_db, mysql_server, make_env, run_cli, tmp_path, request):
    wh = Warehouse(dialect, tmp_path, request)
    table = f"{sakila_db}.settlement_normal_delivery_detail"
    config = tmp_path / "s3rb.toml"
    config.write_text(f'[tables."{table}"]\nload_mode = "append"\nlatest_key = ["ant_parcel_no"]\nstatus_column = "latest_status"\n')
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", S3RB_CONFIG=str(config), **wh.env)
    mysql(mysql_server, sakila_db, SETTLEMENT_DDL, events([
        ("P1", 7, "PICKED", "1.10", "2025-08-01 10:00:00"),
        ("P1", 7, "IN_TRANSIT", "1.10", "2025-08-01 11:00:00"),
        ("P2", 7, "PICKED", "2.20", "2025-08-01 10:30:00"),
        ("P3", 9, "DELIVERED", "3.30", "2025-08-01 12:00:00"),
    ]))
    first = run_cli("--run", "sync", "-t", "settlement_normal_delivery_detail", "-t", "actor", "--json", env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    load = {t["table"]: t["details"]["load"]["details"] for t in json.loads(first.stdout)["tables"]}
    assert load[table]["mode"] == "append" and load[f"{sakila_db}.actor"]["mode"] == "merge"
    assert sorted(load[table]["views"]) == sorted(f"public.{v}" for v in (
        "settlement_normal_delivery_detail_latest", "settlement_latest_delivery_status",
        "settlement_partner_latest_status", "settlement_status_summary"))

    mysql(mysql_server, sakila_db, events([
        ("P1", 7, "DELIVERED", "1.10", "2025-08-02 09:00:00"),
        ("P2", 7, "RETURNED", "2.20", "2025-08-02 09:30:00"),
    ]), "UPDATE actor SET last_name = 'CHANGED', last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id = 1")
    wait_for_next_second(mysql_server)  # last_update has whole seconds: a run takes a second once it is over
    second = run_cli("--run", "sync", "-t", "settlement_normal_delivery_detail", "-t", "actor", env=env)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]

    assert wh.q("SELECT COUNT(*) FROM public.settlement_normal_delivery_detail") == [(6,)]  # append keeps every version
    assert wh.q("SELECT ant_parcel_no, latest_status FROM public.settlement_normal_delivery_detail_latest ORDER BY 1") == [
        ("P1", "DELIVERED"), ("P2", "RETURNED"), ("P3", "DELIVERED")]
    assert wh.q("SELECT ant_parcel_no, partner_id, latest_status FROM public.settlement_partner_latest_status ORDER BY 1") == [
        ("P1", 7, "DELIVERED"), ("P2", 7, "RETURNED"), ("P3", 9, "DELIVERED")]
    assert wh.q("SELECT latest_status, parcel_count, partner_count FROM public.settlement_status_summary ORDER BY 1") == [
        ("DELIVERED", 2, 2), ("RETURNED", 1, 1)]
    last = wh.q("SELECT CAST(last_status_update_at AS VARCHAR) FROM public.settlement_latest_delivery_status WHERE ant_parcel_no = 'P2'")
    assert last[0][0].startswith("2025-08-02 09:30:00")
    # exact types: decimal, JSON, TIME as an interval, BLOB bytes, BIGINT UNSIGNED
    row = wh.q('SELECT net_price, CAST(payload AS VARCHAR), CAST(handling AS VARCHAR), sig, "ID" FROM public.settlement_normal_delivery_detail WHERE ant_parcel_no = \'P3\'')[0]
    assert str(row[0]) == "3.30" and json.loads(row[1]) == {"n": 3} and row[2] in ("03:30:00", "3:30:00")
    assert bytes(row[3]) == bytes.fromhex("0A0B03") and int(row[4]) == 4
    # merge table alongside: one row per key, the newest version
    assert wh.q("SELECT COUNT(*), COUNT(DISTINCT actor_id) FROM public.actor") == [(200, 200)]
    assert wh.q("SELECT last_name FROM public.actor WHERE actor_id = 1") == [("CHANGED",)]

    # a column added to the source: the table grows, the views are rebuilt with it
    mysql(mysql_server, sakila_db, "ALTER TABLE settlement_normal_delivery_detail ADD COLUMN remark VARCHAR(20) NULL AFTER latest_status",
          events([("P3", 9, "RETURNED", "3.30", "2025-08-03 08:00:00")]))
    grown = run_cli("--run", "sync", "-t", "settlement_normal_delivery_detail", env=env)
    assert grown.returncode == 0, grown.stdout[-2000:] + grown.stderr[-2000:]
    assert wh.q("SELECT ant_parcel_no, latest_status, remark FROM public.settlement_latest_delivery_status ORDER BY 1") == [
        ("P1", "DELIVERED", None), ("P2", "RETURNED", None), ("P3", "RETURNED", None)]

    again = run_cli("--run", "sync", "-t", "settlement_normal_delivery_detail", "-t", "actor", "--redshift-only", "--json", env=env)
    assert again.returncode == 0
    assert all(t["status"] == "no new data" for t in json.loads(again.stdout)["tables"])
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "settlement_normal_delivery_detail", "-t", "actor", env=env)
    assert counts.returncode == 0, counts.stdout
