"""The load path on Parquet files written by the test itself (the documented key layout): merge
keeps the version extracted last per key (file in the committed history, then row in the file),
never the highest cursor; each file is loaded once; a second run finds nothing to do. PostgreSQL
and DuckDB."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import FilePosition, data_key
from s3rb_tui.engine.ops.load import load_table
from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Watermark
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support.warehouse import Warehouse

REF = TableRef("shop", "orders")
SCHEMA = TableSchema(REF, (Column("id", "int"), Column("status", "varchar", char_length=20), Column("updated_at", "datetime")),
                     primary_key=("id",), cursor_column="updated_at")
T = dt.datetime(2026, 1, 1, 10, 0, 0)
RUN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def write(ws: Workspace, batch: int, rows: list[tuple]) -> str:
    ids, statuses, times = zip(*rows)
    table = pa.table([pa.array(ids, pa.int32()), pa.array(statuses, pa.string()), pa.array(times, pa.timestamp("us"))],
                     schema=SCHEMA.arrow_schema())
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    key = data_key(ws.incremental_path, REF, RUN, batch)
    ws.store.put(key, sink.getvalue().to_pybytes())
    return key


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_merge_keeps_the_version_extracted_last(dialect, tmp_path, request):
    """The file's place in the committed history, then the row's place in the file, decide; the
    cursor does not (an application moved it backwards, or wrote two versions in one second)."""
    wh = Warehouse(dialect, tmp_path, request)
    settings = build_settings({"STORE_URL": f"file://{tmp_path / 'store'}", **wh.env})
    ws = Workspace(settings)
    later = T + dt.timedelta(hours=1)
    write(ws, 1, [(1, "a", T), (2, "x", later), (3, "first", later), (3, "second", T), (4, "tie-1", T), (4, "tie-2", T)])
    write(ws, 2, [(1, "b", T), (2, "rewound", T - dt.timedelta(days=1))])  # a later file wins, whatever its cursor
    ws.watermarks.update(REF, lambda w: Watermark(table=REF.full_name, committed_through=str(FilePosition("2026-01-02_03-04-05", 2)),
                                                  redshift_status="pending"))
    events = []
    ctx = JobContext("test", sink=events.append)
    result = load_table(ws, REF, ctx, run_id="run-1", schema=SCHEMA)
    assert result.status == "success", result.error
    assert (result.rows, result.files) == (8, 2)
    assert wh.q('SELECT id, status FROM public.orders ORDER BY id') == [(1, "b"), (2, "rewound"), (3, "second"), (4, "tie-2")]
    assert wh.q("SELECT COUNT(*) FROM public.s3rb_load_ledger WHERE run_id = 'run-1'") == [(2,)]
    wm = ws.watermarks.get(REF)
    assert (wm.session.loaded, wm.cumulative.loaded, wm.files_loaded_total, wm.redshift_status) == (8, 8, 2, "success")
    assert any(isinstance(e, Progress) and e.phase == "load" for e in events)

    again = load_table(ws, REF, ctx, run_id="run-2", schema=SCHEMA)
    assert (again.status, again.rows) == ("no new data", 0)
    assert wh.q("SELECT COUNT(*) FROM public.s3rb_load_ledger") == [(2,)]

    # a later load (its own transaction) replaces the loaded version even with an older cursor
    write(ws, 3, [(3, "rewound again", T - dt.timedelta(days=2))])
    ws.watermarks.update(REF, lambda w: dataclasses.replace(w, committed_through=str(FilePosition("2026-01-02_03-04-05", 3))))
    assert load_table(ws, REF, ctx, run_id="run-3", schema=SCHEMA).status == "success"
    assert wh.q("SELECT status FROM public.orders WHERE id = 3") == [("rewound again",)]


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_schema_changes_on_both_dialects(dialect, tmp_path, request):
    wh = Warehouse(dialect, tmp_path, request)
    ws = Workspace(build_settings({"STORE_URL": f"file://{tmp_path / 'store'}", **wh.env}))
    write(ws, 1, [(1, "a", T)])
    ws.watermarks.update(REF, lambda w: Watermark(table=REF.full_name, committed_through=str(FilePosition("2026-01-02_03-04-05", 1))))
    ctx = JobContext("test")
    assert load_table(ws, REF, ctx, run_id="r1", schema=SCHEMA).status == "success"

    changed = TableSchema(REF, (Column("id", "bigint"),) + SCHEMA.columns[1:], primary_key=("id",), cursor_column="updated_at")
    failed = load_table(ws, REF, ctx, run_id="r2", schema=changed)
    assert failed.status == "failed" and "id: warehouse has" in failed.error and "the source needs" in failed.error

    grown = TableSchema(REF, SCHEMA.columns + (Column("note", "text"),), primary_key=("id",), cursor_column="updated_at")
    ok = load_table(ws, REF, ctx, run_id="r3", schema=grown)
    assert ok.status == "no new data" and ok.details["schema_changes"] == [f"added column note {'TEXT' if dialect == 'postgres' else 'VARCHAR'}"]
    assert wh.q("SELECT id, note FROM public.orders") == [(1, None)]


def test_counts_recover_after_a_kill_between_commit_and_watermark(tmp_path, request):
    """A run killed after its batch committed but before its watermark write: the next run loads
    nothing again (the ledger has the files) and counts those files into its own session."""
    wh = Warehouse("duckdb", tmp_path, request)
    ws = Workspace(build_settings({"STORE_URL": f"file://{tmp_path / 'store'}", **wh.env}))
    write(ws, 1, [(1, "a", T), (2, "b", T)])
    before = Watermark(table=REF.full_name, committed_through=str(FilePosition("2026-01-02_03-04-05", 1)), redshift_status="pending")
    ws.watermarks.update(REF, lambda w: before)
    assert load_table(ws, REF, JobContext("test"), run_id="killed", schema=SCHEMA).rows == 2
    ws.watermarks.update(REF, lambda w: before)  # as if the watermark write never happened

    rerun = load_table(ws, REF, JobContext("test"), run_id="rerun", schema=SCHEMA)
    assert (rerun.status, rerun.rows) == ("no new data", 0)
    wm = ws.watermarks.get(REF)
    assert (wm.cumulative.loaded, wm.files_loaded_total, wm.redshift_status) == (2, 1, "success")
    assert wh.q("SELECT COUNT(*) FROM public.orders") == [(2,)]


def test_two_sources_never_share_one_target(tmp_path, request):
    wh = Warehouse("duckdb", tmp_path, request)
    ws = Workspace(build_settings({"STORE_URL": f"file://{tmp_path / 'store'}", **wh.env}))
    write(ws, 1, [(1, "a", T)])
    ws.watermarks.update(REF, lambda w: Watermark(table=REF.full_name, committed_through=str(FilePosition("2026-01-02_03-04-05", 1))))
    assert load_table(ws, REF, JobContext("test"), run_id="r1", schema=SCHEMA).status == "success"
    other = TableRef("shop_eu", "orders")  # same table name in another database: same default target
    clash = load_table(ws, other, JobContext("test"), run_id="r2", schema=TableSchema(other, SCHEMA.columns, ("id",), "updated_at"))
    assert clash.status == "failed" and "public.orders already holds the data of shop.orders" in clash.error
