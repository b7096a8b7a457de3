"""The engine's contract with its front ends (issue 14, point 4): every job emits only the typed,
frozen events of engine/core/events.py — started first, finished last — and the headless JSON log
writes them with the field names it always had. Offline, on the demo stack (SQLite source, local
store, DuckDB warehouse)."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from s3rb_tui import demo, demo_data
from s3rb_tui.engine.core.events import (
    EVENT_TYPES,
    OK_STATUSES,
    JobFinished,
    JobStarted,
    JobStatus,
    LogEvent,
    Progress,
    TableDone,
    TableResult,
)
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.logs import JsonLogger
from s3rb_tui.settings import build_settings

TABLES = (f"{demo.SCHEMA}.{demo_data.CLAIMS}", f"{demo.SCHEMA}.{demo_data.PARTNER_INFO}")


@pytest.fixture
def ws(tmp_path):
    import datetime as dt

    root = tmp_path / "ws"
    (root / "store").mkdir(parents=True)
    (root / "s3rb.toml").write_text(demo.TABLE_CONFIG, encoding="utf-8")
    demo_data.generate(root / "source.sqlite", 400, dt.datetime(2025, 3, 1, 5, 0, 0))
    env = demo.demo_env(root)
    env["BACKUP_BATCH_SIZE"] = "100"
    workspace = Workspace(build_settings(env))
    yield workspace
    workspace.close()


class Recorder:
    def __init__(self) -> None:
        self.events: list = []
        self.ctx = JobContext("test", sink=self.events.append)


def _assert_one_job(events: list, tables: tuple[str, ...]) -> None:
    assert events, "no events"
    assert all(isinstance(e, EVENT_TYPES) for e in events), {type(e).__name__ for e in events}
    assert isinstance(events[0], JobStarted) and events[0].tables == tables
    assert isinstance(events[-1], JobFinished) and events[-1].success
    assert sum(isinstance(e, JobStarted) for e in events) == 1 == sum(isinstance(e, JobFinished) for e in events)
    done = [e.result.table for e in events if isinstance(e, TableDone)]
    assert sorted(done) == sorted(tables)
    for e in events:  # frozen: a sink may keep them while the job goes on
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.job_id = "changed"  # type: ignore[misc]


def test_backup_sync_and_load_emit_only_typed_events_started_first_finished_last(ws):
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.ops.load import run_load
    from s3rb_tui.engine.ops.sync import run_sync

    refs = [ws.table_ref(t) for t in TABLES]
    backup = Recorder()
    results = run_backup(ws, refs, backup.ctx)
    assert all(r.ok for r in results)
    _assert_one_job(backup.events, TABLES)
    progress = [e for e in backup.events if isinstance(e, Progress)]
    assert progress and {e.phase for e in progress} == {"extract"} and progress[-1].rows > 0

    load = Recorder()  # run_load emits its own start and finish, like the others
    results = run_load(ws, refs, load.ctx)
    assert [r.status for r in results] == [JobStatus.SUCCESS, JobStatus.SUCCESS]
    _assert_one_job(load.events, TABLES)
    assert load.events[-1].message == "Load operation completed" and load.events[-1].rows == sum(r.rows for r in results)
    assert any(isinstance(e, Progress) and e.phase == "load" for e in load.events)

    sync = Recorder()  # one job: its phases' own starts and ends are log lines
    results = run_sync(ws, refs, sync.ctx)
    assert all(r.status in OK_STATUSES for r in results)
    _assert_one_job(sync.events, TABLES)
    logged = [e.message for e in sync.events if isinstance(e, LogEvent)]
    for line in ("backup phase started", "backup phase finished", "load phase started", "load phase finished"):
        assert line in logged


def test_a_table_done_event_keeps_the_result_as_it_was_sent():
    rec = Recorder()
    result = TableResult("db.t", "success", rows=5, files=1)
    rec.ctx.table_done(result)
    result.rows, result.status = 99, JobStatus.FAILED  # the job goes on changing its own
    [event] = rec.events
    assert (event.result.rows, event.result.status) == (5, JobStatus.SUCCESS)


def test_a_job_context_refuses_anything_but_the_typed_events():
    rec = Recorder()
    with pytest.raises(TypeError):
        rec.ctx.emit("started")  # type: ignore[arg-type]
    assert rec.events == []


def test_the_status_enum_is_its_own_string_in_json_and_its_ok_set():
    assert json.dumps({"status": JobStatus.NO_NEW_DATA}) == '{"status": "no new data"}'
    assert OK_STATUSES == {JobStatus.SUCCESS, JobStatus.NO_NEW_DATA, JobStatus.SKIPPED, JobStatus.DRY_RUN}
    assert TableResult("t", "dry run").status is JobStatus.DRY_RUN  # a string from outside is parsed
    assert not TableResult("t", "cancelled").ok and TableResult("t", "skipped").ok
    with pytest.raises(ValueError):
        TableResult("t", "finished-ish")


def test_json_log_lines_keep_their_field_names():
    out = io.StringIO()
    logger = JsonLogger(out, progress_every=0)
    ctx = JobContext("backup", sink=logger.on_event, job_id="j1")
    ctx.started(["db.t"], strategy="sequential", dry_run=False)
    ctx.log("table processing started", table="db.t", mode="incremental")
    ctx.progress("db.t", rows=10, files=1, total=20, rows_per_s=5.0, eta_s=2.0, bytes=300)
    ctx.table_done(TableResult("db.t", JobStatus.SUCCESS, rows=20, files=2, bytes=600, seconds=2.0))
    ctx.finished("Backup operation completed", ctx.results, started=None, strategy="sequential")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [list(line) for line in lines] == [
        ["event", "level", "timestamp", "job_id", "tables", "strategy", "dry_run"],
        ["event", "level", "timestamp", "job_id", "table", "mode"],
        ["event", "level", "timestamp", "job_id", "table", "rows", "files", "total", "rows_per_s", "phase", "eta_s", "bytes"],
        ["event", "level", "timestamp", "job_id", "table", "status", "rows", "files", "bytes", "seconds", "error", "hint",
         "warnings", "details", "rows_per_s"],
        ["event", "level", "timestamp", "job_id", "success", "strategy", "successful_tables", "failed_tables", "rows", "files"],
    ]
    assert [line["event"] for line in lines] == ["job started", "table processing started", "progress", "table done",
                                                 "Backup operation completed"]
    assert lines[3]["status"] == "success" and lines[3]["rows_per_s"] == 10.0 and lines[4]["success"] is True
