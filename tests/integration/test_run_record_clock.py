"""A run record's heartbeat is judged on the S3 endpoint's own clock (issue 15): a host whose
clock is minutes behind writes a record the store just stamped, and every reader sees it running."""

from __future__ import annotations

import datetime as dt
import json

from s3rb_tui.engine.history import records
from s3rb_tui.engine.stores.s3 import S3Store


def test_a_fresh_record_from_a_host_with_a_slow_clock_reads_running_on_s3(s3_endpoint, s3_bucket):
    store = S3Store(s3_bucket, endpoint_url=s3_endpoint, access_key="testing", secret_key="testing")
    skewed = records.utcnow() - dt.timedelta(minutes=10)  # the writer's clock is 10 minutes behind
    doc = {"run_id": records.new_run_id("slowclock", skewed), "command": "sync", "started_at": records.iso(skewed),
           "heartbeat_at": records.iso(skewed), "status": "running", "stale_after_seconds": 60, "host": "etl-skewed",
           "trigger": "cli", "tables": [{"table": "db.a", "status": "pending"}]}
    records.write_doc(store, doc, json.dumps(doc), None)
    assert abs((store.now() - records.utcnow()).total_seconds()) < 30  # the store's clock, read from its Date header
    (listed,) = records.list_records(store)
    assert listed.status == "running"
    assert records.read_record(store, doc["run_id"]).status == "running"
    assert [r.run_id for r in records.running_records(store)] == [doc["run_id"]]
