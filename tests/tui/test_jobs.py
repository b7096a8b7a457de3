"""A sync started from the console: progress and log on the Jobs screen, the right counts at the end;
quitting while a job runs asks first and then cancels it cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual.widgets import RichLog

from s3rb_tui.engine.ops.counts import validate_table
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.widgets.job_progress import JobProgressView
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)


def source_rows(env, table: str) -> int:
    name = table.split(".", 1)[1]
    with sqlite3.connect(Path(env["DB_SQLITE_PATH"])) as db:
        return db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]


async def _select_source_table(pilot, table: str) -> None:
    app = pilot.app
    await pilot.press("2")
    grid = app.screen.query_one("#source-tables", ListTable)
    await wait_for(pilot, lambda: table in grid.shown_keys, what="source tables listed")
    grid.focus()
    grid.select(table)
    await wait_text(pilot, f"{table} — incremental")


@pilot_test
async def test_sync_from_console_shows_progress_log_and_right_counts(source_only_env):
    table = wsdata.CLAIMS
    expected = source_rows(source_only_env, table)
    app = make_app(source_only_env)
    async with app.run_test(size=SIZE) as pilot:
        await _select_source_table(pilot, table)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.current_mode == "jobs", what="jobs screen")
        job = next(iter(app.jobs.values()))
        await wait_for(pilot, lambda: not job.running, timeout=120, what="the sync to finish")
        assert job.status == "success", (job.error, job.hint)
        [result] = job.results
        assert result.table == table and result.rows == expected
        view = app.screen.query_one(JobProgressView)
        await wait_for(pilot, lambda: view.job_id == job.job_id, what="job shown")
        await wait_for(pilot, lambda: f"load {expected:,} rows" in screen_text(app), what="final row count on screen")
        progress = job.progress[table]
        assert progress.rows == expected and progress.load_rows == expected  # the backup's and the load's figures
        log = app.screen.query_one("#job-log", RichLog)
        await wait_for(pilot, lambda: any("success" in line.text for line in log.lines), what="the log's summary line")
        assert "success" in screen_text(app)
    with Workspace(build_settings(source_only_env)) as ws:
        report = validate_table(ws, ws.table_ref(table))
        wm = ws.watermarks.get(ws.table_ref(table))
    assert report.warehouse.rows == expected
    assert wm.cumulative.extracted == expected and wm.cumulative.loaded == expected


@pilot_test
async def test_quit_while_a_job_runs_asks_then_cancels(tmp_path):
    # 4,000 batches (1,000 of 50 rows took 15 s alone on 2 cores): still running when the test confirms. Each
    # key press of the test waits up to 2 s for an idle process, which a running job never is, and
    # in the full suite 1,000 batches of 50 rows could end before the second question was
    # answered: the question closed as moot and the click landed on the Jobs screen
    env = wsdata.build(tmp_path / "ws", rows=100000, state="source")
    env["BACKUP_BATCH_SIZE"] = "25"
    table = wsdata.DELIVERY
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _select_source_table(pilot, table)
        await pilot.press("b")
        job = next(iter(app.jobs.values()))
        await wait_for(pilot, lambda: job.progress[table].files >= 1, timeout=60, what="first committed batch")
        await pilot.press("q")
        await wait_text(pilot, "Quit while a job runs?")
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # keep running
        await wait_for(pilot, lambda: app.screen.__class__.__name__ != "ConfirmDialog", what="dialog closed")
        assert app.is_running
        await pilot.press("q")
        await wait_text(pilot, "Quit while a job runs?")
        assert job.running, "the job ended before the test could confirm: give it more batches"
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not app.is_running, timeout=60, what="the app to exit")
    assert job.status == "cancelled", (job.status, job.error)
    with Workspace(build_settings(env)) as ws:
        wm = ws.watermarks.get(ws.table_ref(table))
    assert 0 < wm.cumulative.extracted < 100000  # stopped at a batch edge, committed work kept


@pilot_test
async def test_cancel_stops_a_real_sync_at_a_batch_edge(tmp_path):
    env = wsdata.build(tmp_path / "ws", rows=20000, state="source")
    # 400 batches: the cancel lands mid-run (at 200 rows a batch, 100 batches could all be
    # committed between two of the test's looks at the progress)
    env["BACKUP_BATCH_SIZE"] = str(batch := 50)
    table = wsdata.DELIVERY
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _select_source_table(pilot, table)
        await pilot.press("b")
        await wait_for(pilot, lambda: app.current_mode == "jobs", what="jobs screen")
        job = next(iter(app.jobs.values()))
        await wait_for(pilot, lambda: job.progress[table].files >= 1, timeout=60, what="first committed batch")
        app.screen.query_one("#job-list", ListTable).focus()
        await pilot.press("x")
        await wait_for(pilot, lambda: not job.running, timeout=60, what="the job to stop")
        assert job.status == "cancelled", (job.status, job.error)
        await wait_for(pilot, lambda: "cancelled" in screen_text(app), what="cancelled shown")
    with Workspace(build_settings(env)) as ws:
        wm = ws.watermarks.get(ws.table_ref(table))
        files = [i.key for i in ws.store.list(f"incremental/{table}/")]
    # stopped between batches: fewer rows than the table, and the watermark covers exactly the files
    assert 0 < wm.cumulative.extracted < 20000
    assert wm.cumulative.extracted == batch * len(files) == batch * wm.files_written_total
