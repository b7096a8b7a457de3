"""Verify and repair on the demo stack, offline: the SQLite source (its checksum functions,
``sources/sqlite.py``) against the DuckDB warehouse, through the command line in this process.
What changed is made with sqlite3 and duckdb directly, and read back the same way."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.offline.test_demo_stack import DELIVERY, TABLE, demo, run, source  # noqa: F401  (demo: fixture)


def _warehouse(demo: dict[str, str], sql: str) -> list[tuple]:
    con = duckdb.connect(str(Path(demo["S3RB_DEMO_DIR"]) / "warehouse.duckdb"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _verdict(demo: dict[str, str], code: int) -> dict:
    [table] = run(demo, "verify", "-t", TABLE, code=code)["tables"]
    return table


def test_the_synced_demo_verifies_equal_and_a_changed_value_is_found_by_key_and_column(demo):
    run(demo, "sync", "--all")
    for table in run(demo, "verify", "--all")["tables"]:
        assert table["equal"] and table["source_rows"] == table["warehouse_rows"] > 0, table
    _warehouse(demo, f'UPDATE public.{DELIVERY} SET net_price = net_price + 0.0001 WHERE "ID" = 77')
    _warehouse(demo, f"UPDATE public.{DELIVERY} SET tracking_num = tracking_num || ' ' WHERE \"ID\" = 78")
    v = _verdict(demo, 1)
    assert v["different"] == [[77], [78]] and v["different_columns"] == {"net_price": 1, "tracking_num": 1}
    assert v["missing_in_warehouse"] == [] and v["extra_in_warehouse"] == []


def test_a_row_deleted_at_the_source_is_extra_and_repair_makes_the_demo_equal(demo):
    run(demo, "sync", "-t", TABLE)
    with source(demo) as db:
        db.execute(f'DELETE FROM "{DELIVERY}" WHERE "ID" = 5')
    _warehouse(demo, f"UPDATE public.{DELIVERY} SET latest_status = 'WRONG' WHERE \"ID\" = 9")
    v = _verdict(demo, 1)
    assert v["extra_in_warehouse"] == [[5]] and v["different"] == [[9]] and v["different_columns"] == {"latest_status": 1}
    plan = run(demo, "repair", "-t", TABLE, "--force")
    assert plan["repaired"] and plan["load"]["status"] == "success", plan
    assert _verdict(demo, 0)["equal"]
    with source(demo) as db:
        status = db.execute(f'SELECT latest_status FROM "{DELIVERY}" WHERE "ID" = 9').fetchone()[0]
    assert _warehouse(demo, f'SELECT latest_status FROM public.{DELIVERY} WHERE "ID" = 9') == [(status,)]
    assert _warehouse(demo, f'SELECT COUNT(*) FROM public.{DELIVERY} WHERE "ID" = 5') == [(0,)]


def test_the_live_traffic_withdraws_claims_verify_reports_them_extra_and_repair_removes_them(demo, monkeypatch):
    from s3rb_tui.demo import prepare_demo, start_traffic
    from tests.support.waiting import wait_until

    claims = "settlement.settlement_claim_detail"
    run(demo, "sync", "-t", claims)
    with source(demo) as db:
        synced_top = db.execute('SELECT MAX(ID) FROM "settlement_claim_detail"').fetchone()[0]
    for name, value in demo.items():  # prepare_demo() finds this test's workspace
        monkeypatch.setenv(name, value)
    traffic = start_traffic(prepare_demo(), interval=0.05)
    try:
        wait_until(lambda: sum(i <= synced_top for i in traffic.deleted_ids) >= 2, timeout=60, what="two synced claims withdrawn")
    finally:
        traffic.stop()
    assert traffic.last_error is None
    gone = sorted([i] for i in traffic.deleted_ids if i <= synced_top)
    [v] = run(demo, "verify", "-t", claims, code=1)["tables"]
    assert v["extra_in_warehouse"] == gone and v["missing_in_warehouse"] == [] and v["different"] == [], v
    run(demo, "repair", "-t", claims, "--force")
    [v] = run(demo, "verify", "-t", claims)["tables"]
    assert v["equal"]
