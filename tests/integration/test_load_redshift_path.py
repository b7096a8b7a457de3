"""The Redshift load path up to the cluster: manifests and gzipped CSV written to S3 (moto),
statements run in order in one transaction, secrets redacted from logs and errors. The
statements run against PostgreSQL standing in for the connection, so the COPY itself fails
(PostgreSQL has no COPY FROM 's3://…'): the batch must roll back whole."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.errors import JobError
from s3rb_tui.engine.layout import data_key
from s3rb_tui.engine.tables import TableRef
from s3rb_tui.engine.warehouses import open_warehouse
from s3rb_tui.engine.warehouses.base import LoadSpec, Target
from s3rb_tui.engine.warehouses.files import footer
from s3rb_tui.engine.workspace import Workspace
from s3rb_tui.settings import build_settings

SECRET = "s3cr3t-Value-XYZ-123"


def test_csv_method_stages_files_and_rolls_back_on_copy_failure(pg_db, make_env, s3_bucket):
    settings = build_settings(make_env(WAREHOUSE_DIALECT="redshift", REDSHIFT_LOAD_FORMAT="csv", S3_SECRET_KEY=SECRET,
                                       REDSHIFT_COPY_OPTIONS="MAXERROR 10 TRUNCATECOLUMNS"))
    ws = Workspace(settings)
    ref = TableRef("shop", "orders")
    table = pa.table({"id": pa.array([1, 2], pa.int32()), "note": pa.array(["a,b", None]), "blob": pa.array([b"\x00\xff", b""])})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    key = data_key(ws.incremental_path, ref, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), 1)
    ws.store.put(key, sink.getvalue().to_pybytes())
    logged = []
    wh = open_warehouse(settings, store=ws.store, log=lambda event, **kw: logged.append(kw.get("statement", event)))
    try:
        assert wh.dialect == "redshift"
        assert wh.option_warnings == ["REDSHIFT_COPY_OPTIONS has TRUNCATECOLUMNS: text longer than its column is cut silently, not reported"]
        target = Target("public", "orders")
        wh.create_table(target, [("id", "INTEGER"), ("note", "VARCHAR(40)"), ("blob", "BYTEA")])
        with pytest.raises(JobError) as failure:
            wh.load_batch(target, [footer(ws.store, key, 0)], LoadSpec("merge", ("id",), None), "run-x")
    finally:
        wh.close()
    message = str(failure.value)
    assert message.startswith("Redshift load of public.orders failed") and SECRET not in message

    manifest = json.loads(ws.store.get("redshift/manifests/run-x/batch_0001_00.manifest")[0])
    csv_key = "redshift/csv/" + key[: -len(".parquet")] + ".csv.gz"
    body = ws.store.get(csv_key)[0]
    assert manifest == {"entries": [{"url": f"s3://{s3_bucket}/{csv_key}", "mandatory": True, "meta": {"content_length": len(body)}}]}
    assert gzip.decompress(body) == b'1,"a,b","00ff"\n2,,""\n'  # bytes as hex text (VARBYTE)

    copy = next(s for s in logged if s.startswith("COPY"))
    assert copy.startswith('COPY "s3rb_stage" ("id", "note", "blob")\n')
    assert "SECRET_ACCESS_KEY '****'" in copy and "FORMAT AS CSV GZIP" in copy and copy.endswith("MAXERROR 10 TRUNCATECOLUMNS")
    assert not any(SECRET in s for s in logged)
    assert logged[0].startswith('CREATE TEMP TABLE "s3rb_stage"')
