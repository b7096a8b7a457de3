"""The Jobs screen under real use: moving between jobs while they update, a new job taking the
selection (and x acting on it), totals and rates as the engine reports them, columns that are not
cut, the quit question closing when it is moot, and a job's detail with copyable values.

Some jobs here are small job functions that report the way engine jobs do (progress, table_done,
a result) and wait on an Event, so a test can hold a job at an exact point; the engine's own
totals are tested in tests/integration."""

from __future__ import annotations

import asyncio
import threading

from textual import events

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.jobs import TableResult
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)
T = "db.events"


def stepped_job(steps: list, gates: list[threading.Event], result: TableResult | Exception):
    """A job that reports ``steps[i]`` (kwargs for ctx.progress) and then waits for ``gates[i]``."""

    def fn(ctx):
        for step, gate in zip(steps, gates):
            ctx.progress(T, **step)
            gate.wait(30)
        if isinstance(result, Exception):
            raise result
        ctx.table_done(result)
        return [result]

    return fn


def job_list_line(app, title: str) -> str:
    return next(line for line in screen_text(app).splitlines() if title in line)


async def _on_jobs(pilot) -> None:
    await pilot.press("5")
    await wait_for(pilot, lambda: pilot.app.current_mode == "jobs" and pilot.app.screen.is_mounted, what="jobs screen")


@pilot_test
async def test_moving_between_jobs_while_the_screen_updates_never_crashes(synced_env):
    """Bug 4: Up/Down between two jobs just after one ended raised NoMatches('.progress-stats')
    from the screen's flush into a progress row that was being replaced."""
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        app.run_backup(list(wsdata.TABLES), dry_run=True)
        app.run_backup([wsdata.PARTNERS, wsdata.CLAIMS], dry_run=True)
        await wait_for(pilot, lambda: len(app.jobs) == 2 and not app.running_jobs(), timeout=60, what="two dry runs")
        screen = app.screen
        for i in range(120):
            app.post_message(events.Key("down" if i % 2 else "up", None))
            for _ in range(i % 5):  # let the key land at every stage of the switch
                await asyncio.sleep(0)
            screen._flush()  # what the 0.2 s timer runs, at that moment
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert "settlement.partner_info" in screen_text(app)


@pilot_test
async def test_a_new_job_is_selected_and_x_cancels_it(tmp_path):
    """Bug 5: with a finished job selected, a new one started and the screen kept the old one:
    its progress and errors were shown, and x answered "no running job selected"."""
    env = wsdata.build(tmp_path / "ws", rows=20000, state="source")
    env["BACKUP_BATCH_SIZE"] = "50"  # 400 batches: still running when x is pressed
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        first = app.run_backup([wsdata.PARTNERS])
        await wait_for(pilot, lambda: not first.running, timeout=60, what="the first job")
        await wait_text(pilot, "backup settlement.partner_info")
        second = app.run_backup([wsdata.DELIVERY])
        await wait_for(pilot, lambda: second.progress[wsdata.DELIVERY].files >= 1, timeout=60, what="the second job's first batch")
        await wait_text(pilot, "backup settlement.settlement_normal_delivery_detail")
        await pilot.press("x")
        await wait_for(pilot, lambda: not second.running, timeout=60, what="the cancel")
        assert second.status == "cancelled", (second.status, second.error)
        assert first.status == "success"


@pilot_test
async def test_x_on_a_finished_job_cancels_the_only_running_one(tmp_path):
    env = wsdata.build(tmp_path / "ws", rows=20000, state="source")
    env["BACKUP_BATCH_SIZE"] = "50"
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        first = app.run_backup([wsdata.PARTNERS])
        await wait_for(pilot, lambda: not first.running, timeout=60, what="the first job")
        second = app.run_backup([wsdata.DELIVERY])
        await wait_for(pilot, lambda: second.progress[wsdata.DELIVERY].files >= 1, timeout=60, what="the second job's first batch")
        await wait_text(pilot, "backup settlement.settlement_normal_delivery_detail")
        await pilot.press("down")  # the operator looks at the finished one (newest first)
        await pilot.press("x")
        await wait_for(pilot, lambda: not second.running, timeout=60, what="the cancel")
        assert second.status == "cancelled"


@pilot_test
async def test_counts_stay_whole_while_a_job_runs(synced_env):
    """Bug 10: the Rows column kept the width of its first value ("0") and cut "25,000" to "25,0"."""
    gates = [threading.Event() for _ in range(3)]
    steps = [dict(rows=0, files=0, total=200_000), dict(rows=25_000, files=25, total=200_000), dict(rows=110_000, files=110, total=200_000)]
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        job = app.start_job("backup", "backup db.events", [T], stepped_job(steps, gates, TableResult(T, "success", 200_000, 200)))
        await wait_for(pilot, lambda: job.progress[T].status == "running", what="started")
        await wait_text(pilot, "backup db.events")
        for gate, rows in zip(gates, ("25,000", "110,000")):
            gate.set()
            await wait_for(pilot, lambda: f" {rows} " in job_list_line(app, "backup db.events"), what=f"{rows} in the Rows column")
        gates[2].set()
        await wait_for(pilot, lambda: not job.running, what="the end")
        await wait_for(pilot, lambda: " 200,000 " in job_list_line(app, "backup db.events"), what="the final count")


@pilot_test
async def test_the_load_step_keeps_the_files_the_backup_wrote(synced_env):
    """Bug 10: during a sync's load the Files column said 0 (the load's own count starts at 0)."""
    gates = [threading.Event(), threading.Event()]
    steps = [dict(rows=4_000, files=4, total=4_000, phase="extract"), dict(rows=1_000, files=0, total=4_000, phase="load", rows_per_s=500.0)]
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        result = TableResult(T, "success", 4_000, 4, details={"backup": {"rows": 4_000, "files": 4}, "load": {"rows": 4_000, "files": 4}})
        job = app.start_job("sync", "sync db.events", [T], stepped_job(steps, gates, result))
        gates[0].set()
        await wait_for(pilot, lambda: job.progress[T].phase == "load", what="the load step")
        text = await wait_text(pilot, "load 1,000 / 4,000 rows")
        assert "backup 4,000 rows, 4 files" in text
        # Files: the 4 the backup wrote (the list repaints on its own flush, so wait for it)
        await wait_for(pilot, lambda: " 4,000 " in job_list_line(app, "sync db.events") and " 4 " in job_list_line(app, "sync db.events"),
                       what="the backup's 4 files in the Files column")
        gates[1].set()
        await wait_for(pilot, lambda: not job.running, what="the end")


@pilot_test
async def test_a_failed_job_shows_no_eta_and_a_finished_one_the_runs_rate(synced_env):
    """Bug 6 (display): a failed job said "ETA 0s"; a finished sync showed its load step's rate."""
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        gate = threading.Event()
        gate.set()
        failing = app.start_job("sync", "sync failing", [T], stepped_job(
            [dict(rows=900, files=0, total=1_000, phase="load", rows_per_s=300.0)], [gate],
            TableResult(T, "failed", 0, 3, error="COPY failed: disk full", hint="free space on the warehouse", details={"backup": {"rows": 3_000, "files": 3}, "load": {"rows": 0, "files": 0}})))
        await wait_for(pilot, lambda: not failing.running, what="the failure")
        await wait_text(pilot, "COPY failed: disk full")
        assert "ETA" not in screen_text(app)
        assert "backup 3,000 rows, 3 files" in screen_text(app)  # what it wrote before failing
        done = app.start_job("sync", "sync done", [T], stepped_job(
            [dict(rows=1_000, files=1, total=1_000, rows_per_s=1_000.0), dict(rows=1_000, files=1, total=1_000, phase="load", rows_per_s=50_000.0)],
            [gate, gate], TableResult(T, "success", 1_000, 1, seconds=1.25, details={"backup": {"rows": 1_000, "files": 1}, "load": {"rows": 1_000, "files": 1}})))
        await wait_for(pilot, lambda: not done.running, what="the sync")
        text = await wait_text(pilot, "800 rows/s")  # 1,000 rows over the run's 1.25 s
        assert "50,000 rows/s" not in text and "ETA" not in text


@pilot_test
async def test_a_job_that_fails_mid_table_shows_no_eta(synced_env):
    """Bug 6 (display), the failed case: a job that raised while its table ran (no result for the
    table) left the table "running", so its ETA stayed on screen after the failure."""
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)
        gate = threading.Event()
        job = app.start_job("backup", "backup raising", [T], stepped_job(
            [dict(rows=10_000, files=1, total=100_000, rows_per_s=1_000.0)], [gate], JobError("the source went away")))
        await wait_text(pilot, "ETA")  # while it runs, the ETA is shown
        gate.set()
        await wait_for(pilot, lambda: not job.running, what="the failure")
        await wait_text(pilot, "the source went away")
        assert job.status == "failed" and job.progress[T].status == "failed"
        assert job.progress[T].eta_seconds is None
        await wait_for(pilot, lambda: "ETA" not in screen_text(app), what="the ETA gone")


@pilot_test
async def test_the_quit_question_closes_when_the_job_ends(synced_env):
    """Bug 10: the "Quit while a job runs?" dialog stayed open after the job had ended."""
    gate = threading.Event()
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        job = app.start_job("backup", "backup db.events", [T], stepped_job([dict(rows=10, files=0)], [gate], TableResult(T, "success", 10, 1)))
        await wait_for(pilot, lambda: job.progress[T].status == "running", what="running")
        await pilot.press("q")
        await wait_text(pilot, "Quit while a job runs?")
        gate.set()
        await wait_for(pilot, lambda: not job.running, what="the job to end")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ != "ConfirmDialog", what="the question to close")
        assert app.is_running  # it closed, it did not quit on the operator's behalf
        await wait_for(pilot, lambda: any("q quits now" in str(n.message) for n in app._notifications), what="the note")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="quit without asking")


@pilot_test
async def test_jobs_show_their_start_and_enter_opens_the_whole_error_ready_to_copy(synced_env):
    error = "load of db.events failed: COPY rejected 3 rows (column amount: value 12345678901234567890 out of range for DECIMAL(18,2)); the rest of this message is long enough to be cut anywhere"
    hint = "widen the column in the warehouse or fix the rows in the source, then run sync --redshift-only"
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _on_jobs(pilot)

        def failing(ctx):
            ctx.log("loading", table=T, files=3)
            raise JobError(error, hint)

        job = app.start_job("sync", "sync db.events", [T], failing)
        await wait_for(pilot, lambda: not job.running, what="the failure")
        await wait_text(pilot, "Started")
        assert " UTC" in job_list_line(app, "sync db.events")  # the start time, in the one time style
        await pilot.press("enter")
        await wait_text(pilot, "Job — sync db.events")
        dialog = app.screen
        shown = screen_text(app).replace("\n", " ")
        assert "loading" in shown and "files=3" in shown  # the job's log lines
        while dialog.selected_value()[0] != "Error":
            await pilot.press("down")
        await pilot.press("c")
        assert app.clipboard == error  # the whole error, through OSC 52
        await pilot.press("down")
        await pilot.press("c")
        assert app.clipboard == hint
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "JobsScreen", what="back on Jobs")


@pilot_test
async def test_a_console_job_is_recorded_in_the_store(tmp_path):
    """Issue 15: the console's runs are in the run history too (trigger console)."""
    from s3rb_tui.engine.history.records import list_records
    from s3rb_tui.engine.stores.local import LocalStore

    env = wsdata.build(tmp_path / "ws", rows=500, state="source")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        job = app.run_backup([wsdata.PARTNERS])
        await wait_for(pilot, lambda: not job.running, timeout=60, what="the backup")
    (run,) = list_records(LocalStore(env["STORE_URL"].removeprefix("file://")))
    assert run.status == "success" and run.how == "console" and run.run_id.endswith(job.job_id)
    assert run.tables[0]["table"] == wsdata.PARTNERS and run.tables[0]["rows_extracted"] > 0
