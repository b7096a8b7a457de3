"""Run records on a real local-directory store: written at the start, on a heartbeat and at the end
(compare-and-swap), read newest first with filters, abandoned once the heartbeat is stale, kept
for RUN_HISTORY_DAYS, and never a reason for a run to fail."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.history import records
from s3rb_tui.engine.history.recorder import RunRecorder
from s3rb_tui.engine.core.jobs import JobContext, TableResult
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.logs import Redactor
from tests.support.waiting import wait_until


def _recorder(store, job_id="abc123", tables=("db.a", "db.b"), heartbeat=30, stale=300, **kw) -> RunRecorder:
    return RunRecorder(store, job_id=job_id, command="sync", options={"tables": list(tables), "strategy": "sequential"},
                       trigger="cli", tables=list(tables), heartbeat_seconds=heartbeat, stale_after_seconds=stale,
                       keep_days=90, **kw)


def _stored(store, run_id) -> dict:
    return json.loads(store.get(records.run_key(run_id))[0])


def test_a_run_is_running_then_completed_with_each_tables_figures(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    ctx = JobContext("sync", job_id="abc123")
    rec = _recorder(store)
    rec.start()
    ctx.subscribe(rec.on_event)
    first = _stored(store, rec.run_id)
    assert first["status"] == "running" and [t["status"] for t in first["tables"]] == ["pending", "pending"]
    assert records.run_key(rec.run_id).startswith("runs/" + dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d/"))
    ctx.log("connecting", table="db.b")
    ctx.log("query failed: Lost connection", level="error", table="db.b")
    ok = TableResult("db.a", "success", rows=10, files=1, bytes=100, seconds=0.5,
                     details={"backup": {"rows": 10, "seconds": 0.3, "bytes": 100}, "load": {"rows": 10, "seconds": 0.2}})
    bad = TableResult("db.b", "failed", error="Lost connection", hint="check the network")
    ctx.table_done(ok)
    ctx.table_done(bad)
    doc = rec.finish(list(ctx.results))
    stored = _stored(store, rec.run_id)
    assert stored == doc and stored["status"] == "failed" and stored["finished_at"]
    a, b = stored["tables"]
    assert (a["rows_extracted"], a["rows_loaded"], a["bytes"], a["seconds"]) == (10, 10, 100, {"backup": 0.3, "load": 0.2})
    assert "log" not in a, "log lines are kept for failed tables only"
    assert b["error"] == "Lost connection" and b["hint"] == "check the network"
    assert [line.split(" ", 2)[2] for line in b["log"]] == ["connecting", "query failed: Lost connection"]
    run = records.read_record(store, rec.run_id)
    assert run.failed_tables == ["db.b"] and run.ok_tables == ["db.a"] and run.where.startswith("cron@")


def test_at_most_50_log_lines_of_a_failed_table(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    ctx = JobContext("sync", job_id="logs1")
    rec = _recorder(store, job_id="logs1", tables=("db.a",))
    rec.start()
    ctx.subscribe(rec.on_event)
    for i in range(120):
        ctx.log(f"line {i}", table="db.a")
    ctx.table_done(TableResult("db.a", "failed", error="boom"))
    doc = rec.finish(list(ctx.results))
    lines = doc["tables"][0]["log"]
    assert len(lines) == 50 and lines[-1].endswith("line 119") and lines[0].endswith("line 70")


def test_heartbeat_refreshes_the_record_and_a_stale_one_reads_abandoned(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    rec = _recorder(store, job_id="beat1", heartbeat=1, stale=3)
    rec.start()
    first = _stored(store, rec.run_id)["heartbeat_at"]
    wait_until(lambda: _stored(store, rec.run_id)["heartbeat_at"] != first, 10, "a heartbeat")
    rec._stop.set()  # the writer stops beating without finishing: as after kill -9
    doc = _stored(store, rec.run_id)
    beat = records.parse_iso(doc["heartbeat_at"])
    assert records.RunRecord.from_doc(doc, beat + dt.timedelta(seconds=2)).status == "running"
    assert records.RunRecord.from_doc(doc, beat + dt.timedelta(seconds=4)).status == "abandoned"
    assert [r.status for r in records.list_records(store, now=beat + dt.timedelta(seconds=4), failed=True)] == ["abandoned"]


def test_two_writers_never_overwrite_each_other(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    one, two = _recorder(store, job_id="one"), _recorder(store, job_id="two")
    one.start()
    two.start()
    one.finish([TableResult("db.a", "success")])
    two.finish([TableResult("db.a", "failed", error="x")])
    runs = records.list_records(store)
    assert sorted(r.run_id.split("-")[1] for r in runs) == ["one", "two"]
    assert {r.run_id.split("-")[1]: r.status for r in runs} == {"one": "success", "two": "failed"}


def _write(store, job_id, started, status="success", tables=("db.a",), failed=()):
    doc = {"run_id": records.new_run_id(job_id, started), "command": "backup", "started_at": records.iso(started),
           "finished_at": records.iso(started + dt.timedelta(seconds=5)), "status": status, "host": "h", "trigger": "cli",
           "tables": [{"table": t, "status": "failed" if t in failed else "success", "rows_extracted": 1} for t in tables]}
    records.write_doc(store, doc, json.dumps(doc), None)
    return doc["run_id"]


def test_listing_is_newest_first_with_filters(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    now = records.utcnow()
    old = _write(store, "old", now - dt.timedelta(days=3), tables=("db.a", "db.b"))
    bad = _write(store, "bad", now - dt.timedelta(hours=5), status="failed", tables=("db.b",), failed=("db.b",))
    new = _write(store, "new", now - dt.timedelta(minutes=5), tables=("other.c",))
    assert [r.run_id for r in records.list_records(store)] == [new, bad, old]
    assert [r.run_id for r in records.list_records(store, since=now - dt.timedelta(hours=24))] == [new, bad]
    assert [r.run_id for r in records.list_records(store, failed=True)] == [bad]
    assert [r.run_id for r in records.list_records(store, tables=["db.*"])] == [bad, old]
    assert [r.run_id for r in records.list_records(store, tables=["db.a"])] == [old]
    assert [r.run_id for r in records.list_records(store, limit=2)] == [new, bad]


def test_runs_started_in_the_same_second_list_in_start_order(tmp_path: Path):
    """A failed backup and the retry that fixed it 300 ms later: the retry is the newer run
    whatever the job ids (whole-second ids listed these by job id: 'zzz' before 'aaa')."""
    store = LocalStore(tmp_path / "store")
    second = dt.datetime(2026, 12, 2, 2, 0, 0, 100_000, tzinfo=dt.timezone.utc)
    failed = _write(store, "zzz", second, status="failed", failed=("db.a",))
    retry = _write(store, "aaa", second + dt.timedelta(milliseconds=300))
    assert retry == "20261202T020000.400Z-aaa"
    assert [r.run_id for r in records.list_records(store)] == [retry, failed]
    assert records.read_record(store, retry).run_id == retry


def test_a_run_id_written_before_milliseconds_still_reads_and_sorts_by_its_second(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    started = dt.datetime(2026, 12, 2, 2, 0, 0, tzinfo=dt.timezone.utc)
    doc = {"run_id": "20261202T020000Z-0ld", "command": "backup", "started_at": records.iso(started),
           "finished_at": records.iso(started), "status": "success", "host": "h", "trigger": "cli", "tables": []}
    records.write_doc(store, doc, json.dumps(doc), None)
    later = _write(store, "new", started + dt.timedelta(milliseconds=1))
    earlier = _write(store, "prev", started - dt.timedelta(milliseconds=1))
    assert records.read_record(store, "20261202T020000Z-0ld").status == "success"
    assert [r.run_id for r in records.list_records(store)] == [later, "20261202T020000Z-0ld", earlier]


def test_retention_removes_a_few_old_records_per_run(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    now = records.utcnow()
    for i in range(5):
        _write(store, f"old{i}", now - dt.timedelta(days=100 + i))
    kept = _write(store, "kept", now - dt.timedelta(days=10))
    assert len(records.prune_expired(store, 90, now, at_most=3)) == 3
    assert len(records.prune_expired(store, 90, now, at_most=3)) == 2
    assert [r.run_id for r in records.list_records(store)] == [kept]


def test_a_store_that_cannot_take_the_record_never_fails_the_run(tmp_path: Path):
    root = tmp_path / "store"
    store = LocalStore(root)
    (root / "runs").write_text("a file where the runs/ directory would be")  # every record write fails
    warnings = []
    rec = _recorder(store, job_id="nostore", log=lambda event, level="info", **f: warnings.append((event, level)))
    rec.start()
    doc = rec.finish([TableResult("db.a", "success"), TableResult("db.b", "success")])
    assert doc["status"] == "success"
    assert rec.write_failures == 2 and ("run record not written; the run goes on", "warning") in warnings


def test_no_secret_reaches_a_record(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    secrets = ["db-pass-W0rd!", "AWSsecretKEY/abc+123"]
    ctx = JobContext("sync", job_id="sec1")
    rec = _recorder(store, job_id="sec1", tables=("db.a",), redact=Redactor(secrets))
    rec.start()
    ctx.subscribe(rec.on_event)
    ctx.log(f"connect mysql://root:{secrets[0]}@db failed", level="error", table="db.a")
    ctx.table_done(TableResult("db.a", "failed", error=f"signature with {secrets[1]} rejected"))
    rec.finish(list(ctx.results))
    text = store.get(records.run_key(rec.run_id))[0].decode()
    assert "****" in text and not any(s in text for s in secrets)


def test_a_run_id_that_is_not_one_is_bad_input(tmp_path: Path):
    with pytest.raises(UsageError, match="is not a run id"):
        records.run_key("../../etc/passwd")
    with pytest.raises(UsageError, match="no run 20260101T000000Z-abc"):
        records.read_record(LocalStore(tmp_path / "s"), "20260101T000000Z-abc")


def test_running_records_and_the_last_run_of_each_table(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    now = records.utcnow()
    _write(store, "done", now - dt.timedelta(minutes=30), tables=("db.a", "db.b"))
    _write(store, "later", now - dt.timedelta(minutes=10), status="failed", tables=("db.a",), failed=("db.a",))
    live = _recorder(store, job_id="live", tables=("db.c",))
    live.start()
    try:
        assert [r.run_id for r in records.running_records(store)] == [live.run_id]
        last = records.last_run_of_tables(store, ["db.a", "db.b", "db.c", "db.z"])
        assert {t: r.run_id.split("-")[1] for t, r in last.items()} == {"db.a": "later", "db.b": "done", "db.c": "live"}
    finally:
        live.finish([TableResult("db.c", "success")])
    assert records.running_records(store) == []


def _running(store, job_id, heartbeat_at):
    """A running record whose writer's clock said ``heartbeat_at`` (skewed) when the store stamped it."""
    doc = {"run_id": records.new_run_id(job_id, heartbeat_at), "command": "backup", "started_at": records.iso(heartbeat_at),
           "heartbeat_at": records.iso(heartbeat_at), "status": "running", "stale_after_seconds": 60, "host": "skewed",
           "trigger": "cli", "tables": [{"table": "db.a", "status": "pending"}]}
    records.write_doc(store, doc, json.dumps(doc), None)
    return doc["run_id"]


def test_abandoned_is_judged_on_the_stores_clock_not_the_writers(tmp_path: Path):
    import os

    store = LocalStore(tmp_path / "store")
    now = records.utcnow()
    live = _running(store, "slowclock", now - dt.timedelta(minutes=10))  # its host's clock is 10 min behind; it just beat
    dead = _running(store, "fastclock", now + dt.timedelta(minutes=10))  # its host's clock is ahead; it died 5 min ago
    path = tmp_path / "store" / records.run_key(dead)
    old = (now - dt.timedelta(minutes=5)).timestamp()
    os.utime(path, (old, old))
    assert {r.run_id: r.status for r in records.list_records(store)} == {live: "running", dead: "abandoned"}
    assert records.read_record(store, live).status == "running" and records.read_record(store, dead).status == "abandoned"
    assert [r.run_id for r in records.running_records(store)] == [live]
    # the writer's own time alone (no object time to go by) would have said the opposite
    assert records.RunRecord.from_doc(records.read_record(store, live).doc, now).status == "abandoned"
