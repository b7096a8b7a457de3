"""Backup, load, sync, counts and watermark changes on the demo stack, offline: the SQLite source,
the local-directory store and the DuckDB warehouse that ``--demo`` builds (s3rb_tui/demo.py), driven
through the command line in this process. What each run did is read back independently: the
source with sqlite3, the store's Parquet files with pyarrow, the warehouse with duckdb (read only).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.support.headless import run_in_process

DELIVERY = "settlement_normal_delivery_detail"
TABLE = f"settlement.{DELIVERY}"
ROWS = 2000


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, str]:
    """The variables that point ``--demo`` at this test's own small workspace (built on first use)."""
    return {"S3RB_DEMO_DIR": str(tmp_path / "demo"), "S3RB_DEMO_ROWS": str(ROWS)}


def run(demo: dict[str, str], *args: str, code: int = 0) -> dict:
    """``s3rb-tui --demo --run *args --json``: its JSON document, after checking the exit code."""
    done = run_in_process("--demo", "--run", *args, "--json", env=demo, cwd=Path(demo["S3RB_DEMO_DIR"]).parent)
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)


def table_result(doc: dict) -> dict:
    [result] = doc["tables"]
    assert result["table"] == TABLE
    return result


def source(demo: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(demo["S3RB_DEMO_DIR"]) / "source.sqlite")


def source_rows(demo: dict[str, str], where: str = "1 = 1") -> dict[int, str]:
    with source(demo) as db:
        return dict(db.execute(f'SELECT "ID", latest_status FROM "{DELIVERY}" WHERE {where}').fetchall())


def stored_files(demo: dict[str, str]) -> list[Path]:
    return sorted(p for p in (Path(demo["S3RB_DEMO_DIR"]) / "store").rglob("*.parquet") if DELIVERY in str(p))


def stored_ids(demo: dict[str, str]) -> list[int]:
    """Every ID in the store's data files of the table, one entry per stored row."""
    return [i for f in stored_files(demo) for i in pq.read_table(f, columns=["ID"]).column("ID").to_pylist()]


def warehouse_rows(demo: dict[str, str]) -> dict[int, str]:
    con = duckdb.connect(str(Path(demo["S3RB_DEMO_DIR"]) / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute(f'SELECT "ID", latest_status FROM public.{DELIVERY}').fetchall())
    finally:
        con.close()


def watermark(demo: dict[str, str]) -> dict:
    return run(demo, "watermark", "get", "-t", TABLE)


def touch(demo: dict[str, str], ids: list[int], status: str) -> str:
    """Change ``ids``' status in place with an ``update_at`` a few seconds ago (a complete second,
    so the next run's bound takes it without waiting); returns that timestamp."""
    stamp = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S")
    with source(demo) as db:
        db.executemany(f'UPDATE "{DELIVERY}" SET latest_status = ?, update_at = ? WHERE "ID" = ?',
                       [(status, stamp, i) for i in ids])
    return stamp


def add_row(demo: dict[str, str], status: str) -> int:
    """A new row: a copy of row 1 under the next ID, stamped like ``touch``; returns its ID."""
    stamp = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S")
    with source(demo) as db:
        columns = [r[1] for r in db.execute(f'PRAGMA table_info("{DELIVERY}")')]
        new_id = db.execute(f'SELECT MAX("ID") + 1 FROM "{DELIVERY}"').fetchone()[0]
        values = {"ID": str(new_id), "latest_status": "?", "update_at": "?", "ant_parcel_no": "'NEW' || ant_parcel_no"}
        select = ", ".join(values.get(c, f'"{c}"') for c in columns)
        db.execute(f'INSERT INTO "{DELIVERY}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
                   f'SELECT {select} FROM "{DELIVERY}" WHERE "ID" = 1', (status, stamp))
    return new_id


def test_backup_stores_every_source_row_once_and_a_second_run_adds_nothing(demo):
    first = table_result(run(demo, "backup", "-t", TABLE))
    assert first["status"] == "success" and first["rows"] == ROWS
    assert sorted(stored_ids(demo)) == sorted(source_rows(demo))  # every row, none twice
    wm = watermark(demo)
    assert wm["mysql_status"] == "success" and wm["cumulative"] == {"extracted": ROWS, "loaded": 0}
    assert wm["files_written_total"] == len(stored_files(demo)) and wm["committed_through"]
    files = stored_files(demo)

    again = table_result(run(demo, "backup", "-t", TABLE))
    assert again["status"] == "no new data" and again["rows"] == 0 and again["files"] == 0
    assert stored_files(demo) == files
    assert watermark(demo)["cumulative"]["extracted"] == ROWS


def test_load_puts_the_stored_rows_into_duckdb_once(demo):
    run(demo, "backup", "-t", TABLE)
    loaded = table_result(run(demo, "sync", "-t", TABLE, "--redshift-only"))
    assert loaded["status"] == "success" and loaded["details"]["load"]["rows"] == ROWS
    assert warehouse_rows(demo) == source_rows(demo)
    wm = watermark(demo)
    assert wm["redshift_status"] == "success" and wm["cumulative"] == {"extracted": ROWS, "loaded": ROWS}
    assert wm["files_loaded_total"] == len(stored_files(demo))

    again = table_result(run(demo, "sync", "-t", TABLE, "--redshift-only"))
    assert again["status"] == "no new data" and again["rows"] == 0  # the ledger lists the files: none again
    assert watermark(demo)["cumulative"]["loaded"] == ROWS


def test_sync_carries_changes_in_place_and_new_rows_and_merges_them(demo):
    assert table_result(run(demo, "sync", "-t", TABLE))["status"] == "success"
    assert warehouse_rows(demo) == source_rows(demo)
    touch(demo, [5, 6, 7], "RETURNED")
    new_id = add_row(demo, "CREATED")

    second = table_result(run(demo, "sync", "-t", TABLE))
    assert second["status"] == "success" and second["rows"] == 4  # three changed rows and the new one
    in_warehouse = warehouse_rows(demo)
    assert in_warehouse == source_rows(demo)  # merged on ID: the changed rows replaced, not added
    assert len(in_warehouse) == ROWS + 1 and in_warehouse[new_id] == "CREATED"
    assert [in_warehouse[i] for i in (5, 6, 7)] == ["RETURNED"] * 3
    assert watermark(demo)["cumulative"] == {"extracted": ROWS + 4, "loaded": ROWS + 4}


def test_counts_validate_after_a_sync_and_set_count_sets_both_totals(demo):
    run(demo, "sync", "-t", TABLE)
    [check] = run(demo, "watermark-count", "validate-counts", "-t", TABLE)["tables"]
    assert check["warehouse"]["rows"] == check["source"]["rows"] == check["files"]["rows"] == ROWS
    assert check["unexpected"] == []

    run(demo, "watermark-count", "set-count", "-t", TABLE, "--count", "1500", "--force")
    assert watermark(demo)["cumulative"] == {"extracted": 1500, "loaded": 1500}
    [wrong] = run(demo, "watermark-count", "validate-counts", "-t", TABLE, code=1)["tables"]
    assert wrong["unexpected"], wrong  # 1,500 counted, 2,000 in the warehouse: named as unexpected

    run(demo, "watermark-count", "set-count", "-t", TABLE, "--count", str(ROWS), "--force")
    assert run(demo, "watermark-count", "validate-counts", "-t", TABLE)["ok"] is True


def test_watermark_set_extracts_strictly_after_the_timestamp_and_reset_from_the_start(demo):
    run(demo, "backup", "-t", TABLE)
    with source(demo) as db:
        [(since,)] = db.execute(f'SELECT update_at FROM "{DELIVERY}" ORDER BY update_at DESC LIMIT 1 OFFSET 40').fetchall()
    since = since[:19]  # the newest rows, by whole seconds
    after = source_rows(demo, f"update_at > '{since}'")
    assert 0 < len(after) < ROWS

    run(demo, "watermark", "set", "-t", TABLE, "--timestamp", since, "--force")
    wm = watermark(demo)
    assert wm["backup_strategy"] == "manual_cli" and wm["last_data_timestamp"].startswith(since)
    files_before = set(stored_files(demo))
    moved = table_result(run(demo, "backup", "-t", TABLE))
    assert moved["status"] == "success" and moved["rows"] == len(after)
    new_files = set(stored_files(demo)) - files_before
    assert sorted(i for f in new_files for i in pq.read_table(f, columns=["ID"]).column("ID").to_pylist()) == sorted(after)

    run(demo, "watermark", "reset", "-t", TABLE, "--force")
    assert watermark(demo)["last_data_timestamp"] is None
    full = table_result(run(demo, "backup", "-t", TABLE))
    assert full["status"] == "success" and full["rows"] == ROWS  # from the start again
    assert watermark(demo)["cumulative"]["extracted"] == ROWS  # counts start again at the reset
