"""BIGINT UNSIGNED and BIT(64) in the files: decimal(20,0), exact to 2^64-1 on both extraction
paths (no Redshift column takes a Parquet UINT_64); pyarrow, DuckDB and PostgreSQL read the
values back exactly (pandas too); an unsigned key keeps paging and its watermark position stays an integer.
Files written by earlier versions (uint64) still load into PostgreSQL and DuckDB."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import FilePosition, data_key
from s3rb_tui.engine.ops.load import load_table
from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Watermark
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support.warehouse import Warehouse, mysql
from tests.support import postgres

pytestmark = pytest.mark.integration

TOP = 2**64 - 1
ROWS = [(TOP, TOP), (TOP - 1, 2**63), (2**63, 1), (1, 0), (0, None)]


def _values(rows):
    return ", ".join(f"({k}, {'NULL' if b is None else b}, '2026-01-01 00:00:00')" for k, b in rows)


@pytest.mark.parametrize("engine", ["fast", "pymysql"])
def test_unsigned_64_bit_values_are_decimal_20_0_end_to_end(engine, mysql_server, mysql_db, pg_db, make_env, run_cli, tmp_path):
    mysql(mysql_server, mysql_db,
          "CREATE TABLE u (id BIGINT UNSIGNED PRIMARY KEY, b BIT(64), updated_at DATETIME NOT NULL)",
          f"INSERT INTO u VALUES {_values(ROWS)}")
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}", WAREHOUSE_DIALECT="postgres", EXTRACT_ENGINE=engine)
    first = run_cli("--run", "sync", "-t", "u", "--batch-size", "2", "--json", env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]

    files = sorted(store.rglob("*.parquet"))
    assert len(files) == 3  # five rows, two per file: every page ended on an unsigned key
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert table.schema.field("id").type == pa.decimal128(20, 0) and table.schema.field("b").type == pa.decimal128(20, 0)
    expected = sorted(ROWS)
    assert sorted((r["id"], r["b"]) for r in table.to_pylist()) == expected
    assert all(pq.ParquetFile(f).schema.column(0).physical_type == "FIXED_LEN_BYTE_ARRAY" for f in files)
    frame = table.to_pandas()  # pandas keeps them as exact Decimals
    assert sorted(zip(frame["id"], frame["b"].where(frame["b"].notna(), None))) == [(Decimal(k), None if b is None else Decimal(b)) for k, b in expected]
    got = duckdb.sql(f"SELECT id, b FROM read_parquet({json.dumps([str(f) for f in files])}) ORDER BY id").fetchall()
    assert got == [(Decimal(k), None if b is None else Decimal(b)) for k, b in expected]
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, b FROM public.u ORDER BY id")
            assert cur.fetchall() == [(Decimal(k), None if b is None else Decimal(b)) for k, b in expected]
            cur.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.u'::regclass AND attname = 'id'")
            assert cur.fetchone() == ("numeric(20,0)",)
    finally:
        conn.close()

    # the watermark's key is the integer itself (an exact comparison in MySQL, never a string or a double)
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "u", "--json", env=env).stdout)
    assert wm["last_key"] == [TOP] and wm["initial_scan"] is None

    # an incremental run over every row (one cursor value, keyset pages of two): each page's position
    # holds the unsigned key as the integer
    mysql(mysql_server, mysql_db, "UPDATE u SET updated_at = '2026-01-02 00:00:00', b = 7")
    again = run_cli("--run", "sync", "-t", "u", "--batch-size", "2", "--json", env=env)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, b FROM public.u ORDER BY id")
            assert cur.fetchall() == [(Decimal(k), Decimal(7)) for k, _ in expected]
    finally:
        conn.close()
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "u", "--json", env=env).stdout)
    assert (wm["last_data_timestamp"], wm["last_key"], wm["session"]["extracted"]) == ("2026-01-02 00:00:00.000000", [TOP], 5)


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_uint64_files_of_earlier_versions_still_load(dialect, tmp_path, request):
    wh = Warehouse(dialect, tmp_path, request)
    ws = Workspace(build_settings({"STORE_URL": f"file://{tmp_path / 'store'}", **wh.env}))
    ref = TableRef("shop", "legacy")
    schema = TableSchema(ref, (Column("id", "bigint", "bigint(20) unsigned", unsigned=True), Column("updated_at", "datetime")),
                         primary_key=("id",), cursor_column="updated_at")
    old = pa.table({"id": pa.array([TOP, 5], pa.uint64()), "updated_at": pa.array([dt.datetime(2026, 1, 1)] * 2, pa.timestamp("us"))})
    new = pa.table({"id": pa.array([7], pa.decimal128(20, 0)), "updated_at": pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us"))})
    run = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    for batch, t in ((1, old), (2, new)):
        sink = pa.BufferOutputStream()
        pq.write_table(t, sink)
        ws.store.put(data_key(ws.incremental_path, ref, run, batch), sink.getvalue().to_pybytes())
    ws.watermarks.update(ref, lambda w: Watermark(table=ref.full_name, committed_through=str(FilePosition("2026-01-02_03-04-05", 2))))
    result = load_table(ws, ref, JobContext("test"), run_id="r1", schema=schema)
    assert result.status == "success", result.error
    assert [int(k) for (k,) in wh.q("SELECT id FROM public.legacy ORDER BY id")] == [5, 7, TOP]
