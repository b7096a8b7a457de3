"""Cancelled and failed jobs report the truth (issue 13, bug 6): the rows and files committed before
the cancel or failure, an operator's cancel is not a failure in the watermark, a failed sync whose
backup wrote files says so, and a sync's rate is the whole run's. Real MariaDB (Sakila), a real S3
endpoint and PostgreSQL as the warehouse; jobs run in-process so the test can cancel at an exact
batch edge through the job's own cancel token."""

from __future__ import annotations

import pytest

from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.events import EngineEvent, JobFinished, Progress, TableDone
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.ops.sync import run_sync
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import load_settings
from tests.support import mariadb, postgres
from tests.support.backups import wait_for_next_second


@pytest.fixture
def ws(make_env):
    workspace = Workspace(load_settings(environ=make_env(BACKUP_BATCH_SIZE="100", EXTRACT_ENGINE="pymysql")))
    yield workspace
    workspace.close()


class Recorder:
    """A job's events; cancels the job once ``cancel_when(event)`` is true."""

    def __init__(self, cancel_when=lambda ev: False):
        self.events: list[EngineEvent] = []
        self.cancel_when = cancel_when
        self.ctx = JobContext("test", sink=self)

    def __call__(self, ev: EngineEvent) -> None:
        self.events.append(ev)
        if not self.ctx.cancel.cancelled and self.cancel_when(ev):
            self.ctx.cancel.cancel("cancelled by the operator")

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def _extract_files(n: int):
    return lambda ev: isinstance(ev, Progress) and ev.phase == "extract" and ev.files == n


def test_a_cancelled_backup_reports_its_committed_batches_and_is_not_a_failure(ws, sakila_db):
    table = TableRef(sakila_db, "rental")
    job = Recorder(cancel_when=_extract_files(4))
    [result] = run_backup(ws, [table], job.ctx)
    assert result.status == "cancelled"
    assert (result.rows, result.files) == (400, 4)  # was 0 rows, 0 files
    done = job.of(TableDone)[0].result
    assert (done.status, done.rows, done.files) == ("cancelled", 400, 4)
    wm = ws.watermarks.get(table)
    assert wm.mysql_status == "cancelled" and wm.last_run_result == "cancelled"  # was "failed"
    assert wm.last_error is None
    assert wm.cumulative.extracted == 400 and wm.files_written_total == 4


def test_a_cancelled_sync_reports_what_its_backup_committed(ws, sakila_db, pg_db):
    table = TableRef(sakila_db, "rental")
    job = Recorder(cancel_when=_extract_files(4))
    [result] = run_sync(ws, [table], job.ctx)
    assert result.status == "cancelled"
    assert (result.rows, result.files) == (400, 4)
    assert "committed before it stopped: 4 file(s), 400 rows" in result.error
    assert ws.watermarks.get(table).mysql_status == "cancelled"


def test_a_cancelled_load_reports_its_loaded_batches_and_leaves_the_rest_pending(ws, sakila_db, pg_db):
    table = TableRef(sakila_db, "rental")
    [backup] = run_backup(ws, [table], JobContext("backup"))
    assert backup.files == 161
    # cancel while the first load batch (16 files) is in flight: it commits, the next does not start
    job = Recorder(cancel_when=lambda ev: isinstance(ev, Progress) and ev.phase == "load" and ev.rows > 0)
    [result] = run_sync(ws, [table], job.ctx, load_only=True)
    assert result.status == "cancelled"
    assert (result.rows, result.files) == (1600, 16)
    wm = ws.watermarks.get(table)
    assert (wm.redshift_status, wm.last_run_result, wm.cumulative.loaded) == ("pending", "cancelled", 1600)
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM public.rental")
            assert cur.fetchone()[0] == 1600
    finally:
        conn.close()


def test_a_failed_sync_whose_backup_wrote_a_file_says_so_and_blames_the_right_side(ws, sakila_db, pg_db, mysql_server):
    table = TableRef(sakila_db, "actor")
    [first] = run_sync(ws, [table], JobContext("sync"))
    assert first.status == "success"
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:  # someone changes the warehouse column, not the source
            cur.execute("ALTER TABLE public.actor ALTER COLUMN first_name TYPE TEXT")
        conn.commit()
    finally:
        conn.close()
    with mariadb.connect(mysql_server, sakila_db) as my, my.cursor() as cur:
        cur.execute("UPDATE actor SET last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id = 7")
    wait_for_next_second(mysql_server)  # last_update has whole seconds: a run takes a second once it is over
    job = Recorder()
    [result] = run_sync(ws, [table], job.ctx)
    assert result.status == "failed"
    assert (result.rows, result.files) == (1, 1)  # the backup's committed file, not "0 rows, 0 files"
    assert "the backup step committed 1 file(s), 1 rows" in result.error
    assert "changed in the source" not in result.error
    assert "first_name: warehouse has text, the source needs character varying(45)" in result.error
    assert result.details["backup"]["files"] == 1 and result.details["load"]["status"] == "failed"


def test_a_finished_sync_reports_the_runs_rate_not_the_load_steps(ws, sakila_db, pg_db):
    table = TableRef(sakila_db, "rental")
    job = Recorder()
    [result] = run_sync(ws, [table], job.ctx)
    assert result.status == "success" and result.rows == 16044
    backup, load = result.details["backup"], result.details["load"]
    assert result.seconds == pytest.approx(backup["seconds"] + load["seconds"], abs=0.002)
    assert result.rows_per_s == round(16044 / result.seconds, 1)
    assert result.rows_per_s < round(16044 / load["seconds"], 1)  # the load step alone is faster
    assert job.of(TableDone)[-1].result.rows_per_s == result.rows_per_s
    finished = job.of(JobFinished)[-1]
    assert finished.rows == 16044 and 0 < finished.rows_per_s <= result.rows_per_s
