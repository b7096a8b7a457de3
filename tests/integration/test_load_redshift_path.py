"""The Redshift load path end to end on real PostgreSQL and a real S3 endpoint (moto): the
statements RedshiftWarehouse sends run on PostgreSQL through the stand-in
(tests/support/redshift_standin.py), which emulates only what PostgreSQL cannot do (identifier
folding, COPY … FROM 's3://…manifest': positional for Parquet, NULL AS for the CSV method).

Covered: the staged positional path (files written before a column was added, or in another column
order), mixed-case MySQL names and REDSHIFT_SCHEMA, the merge's order across runs, uint64 files of
earlier versions, the CSV method's NULL/''/NUL rules, refusals by name before any COPY, the
ledger guard, rollback of a failed batch with secrets redacted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.stores.layout import FilePosition, data_key
from s3rb_tui.engine.ops.load import load_table
from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.warehouses.base import LoadSpec, Target
from s3rb_tui.engine.warehouses.files import footer
from s3rb_tui.engine.state.watermarks import Watermark
from tests.support import postgres
from tests.support.redshift_standin import open_standin, standin, standin_workspace  # noqa: F401  (standin: fixture)

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-Value-XYZ-123"
RUN1 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
RUN2 = dt.datetime(2026, 1, 3, 3, 4, 5, tzinfo=dt.timezone.utc)
T = dt.datetime(2026, 1, 1, 10, 0, 0)


def q(pg, sql):
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cur.fetchall()]
    finally:
        conn.close()


def put(ws, ref, run, batch, table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    key = data_key(ws.incremental_path, ref, run, batch)
    ws.store.put(key, sink.getvalue().to_pybytes())
    return key


def commit_through(ws, ref, run, batch):
    stamp = run.strftime("%Y-%m-%d_%H-%M-%S")
    ws.watermarks.update(ref, lambda w: dataclasses.replace(w, committed_through=str(FilePosition(stamp, batch))) if w
                         else Watermark(table=ref.full_name, committed_through=str(FilePosition(stamp, batch)), redshift_status="pending"))


ORDERS = TableRef("Shop", "OrderItems")
ORDERS_SCHEMA = TableSchema(ORDERS, (Column("OrderID", "int"), Column("Status", "varchar", char_length=20), Column("UpdatedAt", "datetime")),
                            primary_key=("OrderID",), cursor_column="UpdatedAt")


def orders(ids, statuses, times, names=("OrderID", "Status", "UpdatedAt")):
    cols = {"OrderID": pa.array(ids, pa.int32()), "Status": pa.array(statuses, pa.string()), "UpdatedAt": pa.array(times, pa.timestamp("us"))}
    return pa.table({n: cols[n] for n in names})


def test_mixed_case_names_and_schema_load_once_and_are_found_again(standin, pg_db):
    ws, ctx, logged = standin(REDSHIFT_SCHEMA="Analytics")
    put(ws, ORDERS, RUN1, 1, orders([1, 2], ["a", "b"], [T, T]))
    commit_through(ws, ORDERS, RUN1, 1)
    first = load_table(ws, ORDERS, ctx, run_id="r1", schema=ORDERS_SCHEMA)
    assert (first.status, first.rows) == ("success", 2), first.error
    assert first.details["target"] == "Analytics.OrderItems"
    assert q(pg_db, "SELECT orderid, status FROM analytics.orderitems ORDER BY 1") == [(1, "a"), (2, "b")]
    assert q(pg_db, "SELECT table_name FROM analytics.s3rb_load_ledger") == [("analytics.orderitems",)]

    # the next run finds the table and the ledger (before: both looked missing, every file loaded again)
    put(ws, ORDERS, RUN2, 1, orders([2], ["b2"], [T]))
    commit_through(ws, ORDERS, RUN2, 1)
    second = load_table(ws, ORDERS, ctx, run_id="r2", schema=ORDERS_SCHEMA)
    assert (second.status, second.rows, second.details["schema_changes"]) == ("success", 1, []), second.error
    assert q(pg_db, "SELECT orderid, status FROM analytics.orderitems ORDER BY 1") == [(1, "a"), (2, "b2")]
    assert q(pg_db, "SELECT COUNT(*) FROM analytics.s3rb_load_ledger") == [(2,)]


def test_files_with_other_column_sets_load_positionally_through_a_stage(standin, pg_db):
    ws, ctx, logged = standin()
    ref = TableRef("shop", "evolving")
    grown = TableSchema(ref, ORDERS_SCHEMA.columns + (Column("Note", "text"),), primary_key=("OrderID",), cursor_column="UpdatedAt")
    put(ws, ref, RUN1, 1, orders([1], ["old"], [T]))  # written before Note was added
    # written after a MySQL ADD COLUMN ... AFTER: another column order than the table's
    put(ws, ref, RUN1, 2, pa.table({"Note": pa.array(["n2"]), "OrderID": pa.array([2], pa.int32()), "Status": pa.array(["new"]),
                                    "UpdatedAt": pa.array([T], pa.timestamp("us"))}))
    commit_through(ws, ref, RUN1, 2)
    cfg_append = {"load_mode": "append"}
    ws.table_configs[ref.full_name] = dataclasses.replace(ws.table_config(ref), **cfg_append)
    result = load_table(ws, ref, ctx, run_id="r1", schema=grown)
    assert (result.status, result.rows) == ("success", 2), result.error
    assert q(pg_db, "SELECT orderid, status, note FROM public.evolving ORDER BY 1") == [(1, "old", None), (2, "new", "n2")]
    copies = [s for s in logged if s.startswith("COPY")]
    assert len(copies) == 2 and all("(" not in s.splitlines()[0] for s in copies)  # never a column list
    assert 'INSERT INTO "public"."evolving" ("orderid", "status", "updatedat") SELECT "orderid", "status", "updatedat" FROM "s3rb_stage_file"' in logged


def test_latest_view_is_dropped_and_created_when_a_column_is_added(standin, pg_db):
    ws, ctx, _ = standin()
    ref = TableRef("shop", "events")
    ws.table_configs[ref.full_name] = dataclasses.replace(ws.table_config(ref), load_mode="append")
    put(ws, ref, RUN1, 1, orders([1, 1], ["a", "b"], [T, T + dt.timedelta(hours=1)]))
    commit_through(ws, ref, RUN1, 1)
    first = load_table(ws, ref, ctx, run_id="r1", schema=dataclasses.replace(ORDERS_SCHEMA, ref=ref))
    assert first.details["views"] == ["public.events_latest"], first.error
    again = load_table(ws, ref, ctx, run_id="r2", schema=dataclasses.replace(ORDERS_SCHEMA, ref=ref))  # unchanged: OR REPLACE
    assert again.status == "no new data" and again.details["views"] == ["public.events_latest"], again.error
    grown = dataclasses.replace(ORDERS_SCHEMA, ref=ref, columns=ORDERS_SCHEMA.columns + (Column("Note", "text"),))
    put(ws, ref, RUN2, 1, orders([1], ["c"], [T + dt.timedelta(hours=2)]).append_column("Note", pa.array(["n"])))
    commit_through(ws, ref, RUN2, 1)
    third = load_table(ws, ref, ctx, run_id="r3", schema=grown)  # CREATE OR REPLACE would fail: other columns
    assert third.status == "success" and third.details["views"] == ["public.events_latest"], third.error
    assert q(pg_db, "SELECT orderid, status, note FROM public.events_latest") == [(1, "c", "n")]


def test_merge_keeps_the_run_extracted_last_even_with_an_older_cursor(standin, pg_db):
    ws, ctx, logged = standin()
    ref = TableRef("shop", "rewound")
    schema = TableSchema(ref, ORDERS_SCHEMA.columns, primary_key=("OrderID",), cursor_column="UpdatedAt")
    later = T + dt.timedelta(hours=1)
    put(ws, ref, RUN1, 1, orders([1, 2, 3], ["a", "x", "first"], [T, later, T]))
    put(ws, ref, RUN1, 2, orders([3], ["second"], [later]))  # read again later in the same run: a greater cursor
    put(ws, ref, RUN2, 1, orders([2], ["rewound"], [T - dt.timedelta(days=1)]))  # after a rewind: an older cursor
    commit_through(ws, ref, RUN2, 1)
    result = load_table(ws, ref, ctx, run_id="r1", schema=schema)
    assert (result.status, result.rows) == ("success", 5), result.error
    assert q(pg_db, "SELECT orderid, status FROM public.rewound ORDER BY 1") == [(1, "a"), (2, "rewound"), (3, "second")]
    assert sum(s.startswith("COPY") for s in logged) == 2  # one COPY per run, not per file


def test_uint64_files_of_earlier_versions_load_by_the_csv_method_exactly(standin, pg_db):
    ws, ctx, logged = standin()
    ref = TableRef("shop", "legacy")
    schema = TableSchema(ref, (Column("id", "bigint", "bigint(20) unsigned", unsigned=True), Column("updated_at", "datetime")),
                         primary_key=("id",), cursor_column="updated_at")
    put(ws, ref, RUN1, 1, pa.table({"id": pa.array([2**64 - 1, 7], pa.uint64()), "updated_at": pa.array([T, T], pa.timestamp("us"))}))
    put(ws, ref, RUN1, 2, pa.table({"id": pa.array([8], pa.decimal128(20, 0)), "updated_at": pa.array([T], pa.timestamp("us"))}))
    commit_through(ws, ref, RUN1, 2)
    result = load_table(ws, ref, ctx, run_id="r1", schema=schema)
    assert result.status == "success", result.error
    assert [int(k) for (k,) in q(pg_db, "SELECT id FROM public.legacy ORDER BY 1")] == [7, 8, 2**64 - 1]
    copies = [s for s in logged if s.startswith("COPY")]
    assert ["FORMAT AS CSV GZIP" in s for s in copies] == [True, False]


def test_a_file_redshift_cannot_read_is_refused_by_name_before_any_copy(standin, pg_db):
    ws, ctx, logged = standin()
    ref = TableRef("shop", "nanos")
    schema = TableSchema(ref, (Column("id", "int"), Column("updated_at", "datetime")), primary_key=("id",), cursor_column="updated_at")
    key = put(ws, ref, RUN1, 1, pa.table({"id": pa.array([1], pa.int32()), "updated_at": pa.array([T], pa.timestamp("ns"))}))
    commit_through(ws, ref, RUN1, 1)
    result = load_table(ws, ref, ctx, run_id="r1", schema=schema)
    assert result.status == "failed"
    assert result.error == (f"{key}: column updated_at is INT64 TIMESTAMP(nanoseconds) in the file but timestamp without time zone "
                            "in public.nanos: Redshift misreads nanosecond timestamps; nothing of this batch was loaded")
    assert not any(s.startswith("COPY") for s in logged)
    assert q(pg_db, "SELECT COUNT(*) FROM public.nanos") == [(0,)]


def test_csv_method_keeps_null_and_empty_apart_streams_gzip_and_replaces_nul_by_the_text_rule(standin, pg_db, s3_bucket):
    ws, ctx, logged = standin(REDSHIFT_LOAD_FORMAT="csv", S3_SECRET_KEY=SECRET, REDSHIFT_COPY_OPTIONS="MAXERROR 10")
    ref = TableRef("shop", "texts")
    schema = TableSchema(ref, (Column("id", "int"), Column("note", "varchar", char_length=20), Column("blob", "varbinary", char_length=8)),
                         primary_key=("id",), cursor_column=None)
    ws.table_configs[ref.full_name] = dataclasses.replace(ws.table_config(ref), load_mode="append")
    key = put(ws, ref, RUN1, 1, pa.table({"id": pa.array([1, 2, 3], pa.int32()), "note": pa.array(["a,b", "", None]),
                                          "blob": pa.array([b"\x00\xff", b"", None])}))
    commit_through(ws, ref, RUN1, 1)
    result = load_table(ws, ref, ctx, run_id="r1", schema=schema)
    assert result.status == "success", result.error
    assert q(pg_db, "SELECT id, note, blob FROM public.texts ORDER BY 1") == [(1, "a,b", b"\x00\xff"), (2, "", b""), (3, None, None)]
    csv_key = "redshift/csv/" + key[: -len(".parquet")] + ".csv.gz"
    body = ws.store.get(csv_key)[0]
    assert gzip.decompress(body) == b'1,"a,b","00ff"\n2,"",""\n3,\\N,\\N\n'
    manifest = json.loads(ws.store.get("redshift/manifests/r1/public.texts/batch_0001_00.manifest")[0])
    assert manifest == {"entries": [{"url": f"s3://{s3_bucket}/{csv_key}", "mandatory": True, "meta": {"content_length": len(body)}}]}
    assert not any(SECRET in s for s in logged)

    # NUL, which Redshift text cannot hold: the product's text rule (engine/warehouses/values.py), named
    put(ws, ref, RUN2, 1, pa.table({"id": pa.array([4], pa.int32()), "note": pa.array(["a\x00b"]), "blob": pa.array([None], pa.binary())}))
    commit_through(ws, ref, RUN2, 1)
    fixed = load_table(ws, ref, ctx, run_id="r2", schema=schema)
    assert fixed.status == "success", fixed.error
    assert "public.texts column note: 1 value(s) held NUL bytes, which Redshift text cannot: stored with U+FFFD in their place (first rows: id=4)" \
        in fixed.warnings
    assert q(pg_db, "SELECT note FROM public.texts WHERE id = 4") == [("a\ufffdb",)]
    # the NULL mark itself as text cannot go through the CSV method exactly: refused by file, column and row
    bad = put(ws, ref, RUN2, 2, pa.table({"id": pa.array([5], pa.int32()), "note": pa.array(["\\N"]), "blob": pa.array([None], pa.binary())}))
    commit_through(ws, ref, RUN2, 2)
    refused = load_table(ws, ref, ctx, run_id="r3", schema=schema)
    assert refused.status == "failed" and refused.error.startswith(f"{bad}: column note, row 1: the text '\\\\N' is the CSV method's NULL mark")
    assert q(pg_db, "SELECT COUNT(*) FROM public.texts") == [(4,)]


def test_a_failed_copy_rolls_the_batch_back_whole_and_redacts_secrets(standin, pg_db):
    ws, ctx, logged = standin(S3_SECRET_KEY=SECRET, S3_SESSION_TOKEN="tok-" + SECRET)
    ref = TableRef("shop", "orders")
    store = ws.store
    key = put(ws, ref, RUN1, 1, orders([1, 2], ["a", "too long"], [T, T]))
    wh = open_standin(ws.settings, store)
    wh.log = lambda event, **kw: logged.append(kw.get("statement", event))
    try:
        target = Target("public", "orders")
        wh.ensure_schema_and_ledger()
        wh.create_table(target, [("OrderID", "INTEGER"), ("Status", "VARCHAR(1)"), ("UpdatedAt", "TIMESTAMP")])  # too narrow: COPY fails
        with pytest.raises(JobError) as failure:
            wh.load_batch(target, [footer(store, key, store.head(key).size)], LoadSpec("merge", ("OrderID",), "UpdatedAt"), "run-x")
    finally:
        wh.close()
    message = str(failure.value)
    assert message.startswith("Redshift load of public.orders failed") and SECRET not in message
    assert q(pg_db, "SELECT COUNT(*) FROM public.orders") == [(0,)] and q(pg_db, "SELECT COUNT(*) FROM public.s3rb_load_ledger") == [(0,)]
    copy = next(s for s in logged if s.startswith("COPY"))
    assert "aws_secret_access_key=****;token=****" in copy and SECRET not in "".join(logged)


def test_a_table_with_rows_but_no_ledger_entry_stops_instead_of_loading_everything_again(standin, pg_db):
    ws, ctx, _ = standin()
    ref = TableRef("shop", "guarded")
    schema = TableSchema(ref, ORDERS_SCHEMA.columns, primary_key=("OrderID",), cursor_column="UpdatedAt")
    put(ws, ref, RUN1, 1, orders([1, 2], ["a", "b"], [T, T]))
    commit_through(ws, ref, RUN1, 1)
    assert load_table(ws, ref, ctx, run_id="r1", schema=schema).status == "success"
    q_exec(pg_db, "DELETE FROM public.s3rb_load_ledger")  # the ledger lost (dropped, another schema...)
    put(ws, ref, RUN2, 1, orders([3], ["c"], [T]))
    commit_through(ws, ref, RUN2, 1)
    stopped = load_table(ws, ref, ctx, run_id="r2", schema=schema)
    assert stopped.status == "failed"
    assert stopped.error == ("public.guarded holds 2 rows but the load ledger public.s3rb_load_ledger lists none of its files: "
                             "loading would load all 2 committed files of shop.guarded again; nothing was loaded")
    assert "rebuild -t shop.guarded" in stopped.hint
    assert q(pg_db, "SELECT COUNT(*) FROM public.guarded") == [(2,)]


def q_exec(pg, sql):
    conn = postgres.connect(pg, pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


LOAD_ERROR_VIEWS = """
CREATE TABLE public.sys_load_error_detail (session_id INT, start_time TIMESTAMP, file_name TEXT, line_number BIGINT,
                                           column_name TEXT, column_type TEXT, error_message TEXT);
CREATE TABLE public.stl_load_errors (session INT, starttime TIMESTAMP, filename TEXT, line_number BIGINT, colname TEXT,
                                     type TEXT, err_reason TEXT);
"""


@pytest.mark.parametrize("deployment", ["provisioned", "serverless"])
def test_load_errors_name_file_line_column_and_reason_from_sys_then_stl(deployment, standin, pg_db, s3_bucket):
    """PostgreSQL has no SYS/STL views: the test creates tables of their documented columns, holding
    what Redshift would log for this session's failed COPY (and rows of other sessions and files)."""
    ws, ctx, _ = standin(REDSHIFT_DEPLOYMENT=deployment)
    ref = TableRef("shop", "orders")
    key = put(ws, ref, RUN1, 1, orders([1, 2], ["a", "too long"], [T, T]))
    q_exec(pg_db, LOAD_ERROR_VIEWS)
    wh = open_standin(ws.settings, ws.store)
    try:
        target = Target("public", "orders")
        wh.ensure_schema_and_ledger()
        wh.create_table(target, [("OrderID", "INTEGER"), ("Status", "VARCHAR(1)"), ("UpdatedAt", "TIMESTAMP")])
        url = f"s3://{s3_bucket}/{key}"
        q_exec(pg_db, f"INSERT INTO public.stl_load_errors VALUES ({wh.pid}, now(), '{url}', 2, 'status', 'varchar', 'String length exceeds DDL length')")
        q_exec(pg_db, f"INSERT INTO public.sys_load_error_detail VALUES ({wh.pid + 1}, now(), '{url}', 9, 'x', 'int4', 'another session')")
        q_exec(pg_db, f"INSERT INTO public.sys_load_error_detail VALUES ({wh.pid}, now(), 's3://{s3_bucket}/other.parquet', 9, 'x', 'int4', 'another file')")
        with pytest.raises(JobError) as stl:
            wh.load_batch(target, [footer(ws.store, key, ws.store.head(key).size)], LoadSpec("append"), "run-x")
        q_exec(pg_db, f"INSERT INTO public.sys_load_error_detail VALUES ({wh.pid}, now(), '{url}  ', 2, 'status  ', 'varchar', 'String length exceeds DDL length')")
        with pytest.raises(JobError) as sys:
            wh.load_batch(target, [footer(ws.store, key, ws.store.head(key).size)], LoadSpec("append"), "run-y")
    finally:
        wh.close()
    detail = f"; load errors: {url} line 2 column status (varchar): String length exceeds DDL length"
    assert str(sys.value).split(" (nothing of this batch")[0].endswith(detail)  # SYS_LOAD_ERROR_DETAIL first, on both
    if deployment == "provisioned":  # STL_LOAD_ERRORS only as the fallback of a provisioned cluster
        assert str(stl.value).split(" (nothing of this batch")[0].endswith(detail)
    else:  # Serverless never reads STL views
        assert "load errors" not in str(stl.value)


def test_a_file_listed_twice_in_the_ledger_counts_once(standin, pg_db):
    """Redshift does not enforce the ledger's primary key: a ledger created without one (as it
    behaves there) holding a file twice still reads as one file, one count."""
    ws, ctx, _ = standin()
    q_exec(pg_db, 'CREATE TABLE public.s3rb_load_ledger ("file_key" VARCHAR(1024) NOT NULL, "table_name" VARCHAR(256) NOT NULL, '
                  '"rows" BIGINT NOT NULL, "loaded_at" TIMESTAMPTZ NOT NULL, "run_id" VARCHAR(64) NOT NULL)')
    q_exec(pg_db, "INSERT INTO public.s3rb_load_ledger VALUES ('k1', 'Shop.Orders', 5, now(), 'r1'), ('k1', 'shop.orders', 5, now(), 'r2'), "
                  "('k2', 'shop.orders', 3, now(), 'r2'), ('k3', 'shop.other', 1, now(), 'r2')")
    wh = open_standin(ws.settings, ws.store)
    try:
        assert wh.ledger_entries(Target("Shop", "Orders")) == [("k1", 5, "r1"), ("k2", 3, "r2")]
    finally:
        wh.close()


def test_status_and_config_name_the_deployment_and_the_region_rule(standin, make_env, run_cli):
    from s3rb_tui.engine.ops.health import check_warehouse

    ws, _, _ = standin(REDSHIFT_DEPLOYMENT="serverless", S3_REGION="eu-west-1")
    check = check_warehouse(ws)
    assert check.ok and check.target.startswith("redshift (serverless) ")
    assert check.notes == ["the bucket must be in the cluster's region: a Parquet COPY takes no REGION, so S3_REGION=eu-west-1 "
                           "is not passed to Redshift (REDSHIFT_LOAD_FORMAT=csv passes it)"]
    shown = run_cli("--run", "config", "--json", env=make_env(WAREHOUSE_DIALECT="redshift", REDSHIFT_HOST="wg.1.eu-west-1.redshift-serverless.amazonaws.com"))
    notes = json.loads(shown.stdout)["notes"]
    assert notes[0].startswith("Redshift deployment: serverless") and "never STL views" in notes[0]
    assert notes[1].startswith("the bucket must be in the cluster's region")


def test_tables_of_one_run_never_share_a_manifest(standin, pg_db):
    """Before: every table's first batch of a run wrote redshift/manifests/<run>/batch_0001_00.manifest,
    so tables loading at once (REDSHIFT_MAX_PARALLEL_LOADS) could COPY each other's files."""
    from s3rb_tui.engine.ops.load import run_load

    ws, ctx, _ = standin()
    refs = [TableRef("shop", "first"), TableRef("shop", "second")]
    for i, ref in enumerate(refs):
        ws.table_configs[ref.full_name] = dataclasses.replace(ws.table_config(ref), load_mode="append")  # no source: the files say enough
        put(ws, ref, RUN1, 1, orders([i + 1], [ref.name], [T]))
        commit_through(ws, ref, RUN1, 1)
    results = run_load(ws, refs, ctx, run_id="one-run", max_parallel=1)
    assert [r.status for r in results] == ["success", "success"], [r.error for r in results]
    assert sorted(i.key for i in ws.store.list("redshift/manifests/one-run/")) == [
        "redshift/manifests/one-run/public.first/batch_0001_00.manifest", "redshift/manifests/one-run/public.second/batch_0001_00.manifest"]
    assert q(pg_db, "SELECT orderid, status FROM public.first") == [(1, "first")]
    assert q(pg_db, "SELECT orderid, status FROM public.second") == [(2, "second")]


def test_an_append_repair_batch_records_the_versions_it_replaced_in_the_ledger(standin, pg_db):
    """The Redshift path's history load (an append table's repair batch): the version of order 1
    that ties with the repaired one is replaced, order 2 is new; the ledger holds the file (2 rows)
    and the adjustment (-1), in the batch's transaction, so the table's 2 rows are accounted for."""
    from s3rb_tui.engine.state.ledger import read_ledger, read_ledger_counts

    ws, ctx, logged = standin()
    ref = TableRef("shop", "events")
    first = put(ws, ref, RUN1, 1, orders([1], ["wrong"], [T]))
    repair = put(ws, ref, RUN2, 1, orders([1, 2], ["right", "new"], [T, T]))
    wh = open_standin(ws.settings, ws.store)
    try:
        target = Target("public", "events")
        wh.ensure_schema_and_ledger()
        wh.create_table(target, [("OrderID", "INTEGER"), ("Status", "VARCHAR(20)"), ("UpdatedAt", "TIMESTAMP")])
        wh.load_batch(target, [footer(ws.store, first, ws.store.head(first).size)], LoadSpec("append"), "run-1")
        wh.load_batch(target, [footer(ws.store, repair, ws.store.head(repair).size)],
                      LoadSpec("merge", ("OrderID",), "UpdatedAt", history=True), "repair-1")
        files, adjusted = read_ledger_counts(wh, target)
        assert [(e.key, e.rows) for e in files] == [(first, 1), (repair, 2)] == [(e.key, e.rows) for e in read_ledger(wh, target)]
        assert adjusted == -1
    finally:
        wh.close()
    assert q(pg_db, 'SELECT "orderid", "status" FROM public.events ORDER BY 1') == [(1, "right"), (2, "new")]
    assert q(pg_db, "SELECT file_key, rows FROM public.s3rb_load_ledger WHERE file_key LIKE '%#adjustment'") == [(repair + "#adjustment", -1)]
