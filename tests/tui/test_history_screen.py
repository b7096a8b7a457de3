"""The History screen (issue 15): every run from every host, newest first, failed runs marked,
/ filters, Enter opens a run with its tables' errors, hints and log lines; the Dashboard's "Last
run" says how, where and when; a run in progress elsewhere is on the Jobs screen."""

from __future__ import annotations

import datetime as dt
import json

from s3rb_tui.engine.history import records
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.tui.screens.detail_dialog import DetailDialog
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)
FAILED_RUN = records.new_run_id("0c0c0c0c0c03", wsdata.RUN_START.replace(hour=7))


async def _on_history(pilot):
    await pilot.press("7")
    await wait_for(pilot, lambda: pilot.app.current_mode == "history" and pilot.app.screen.is_mounted, what="history screen")
    grid = pilot.app.screen.query_one("#run-list", ListTable)
    await wait_for(pilot, lambda: len(grid.shown_keys) == 3, what="three runs")
    return grid


@pilot_test
async def test_history_lists_runs_newest_first_marks_failures_filters_and_opens_one(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        grid = await _on_history(pilot)
        assert grid.shown_keys[0] == FAILED_RUN  # newest first
        text = screen_text(app)
        failed_line = next(line for line in text.splitlines() if "cron@etl-2" in line and "sync" in line)
        assert "✗ FAILED" in failed_line and "0/1" in failed_line
        assert "console@ops-1" in text and "3 run(s), 1 failed" in text
        await pilot.press("slash", *"delivery")
        # the failed sync and the backup that had the table; the console's load did not
        await wait_for(pilot, lambda: grid.shown_keys == [FAILED_RUN, records.new_run_id("0a0a0a0a0a01", wsdata.RUN_START)], what="filtered")
        await pilot.press("enter")
        await wait_for(pilot, lambda: grid.has_focus, what="the list focused again")
        grid.select(FAILED_RUN)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailDialog), what="the run's detail")
        shown = await wait_text(pilot, "cannot connect to the warehouse at 10.0.0.5:5439")
        assert "check the network path" in shown and "07:00:31 error load failed: timed out" in shown
        assert "cron@etl-2 (user etl, pid 4242)" in shown


@pilot_test
async def test_the_dashboard_says_how_where_and_when_each_table_last_ran(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=(160, 36)) as pilot:
        text = await wait_text(pilot, "cron@etl-2 07:00 failed")
        delivery = next(line for line in text.splitlines() if "settlement_normal_delivery_detail" in line)
        assert "cron@etl-2 07:00 failed" in delivery
        claims = next(line for line in text.splitlines() if line.strip().startswith("settlement_claim_detail"))
        assert "console@ops-1 06:10 success" in claims


def _live_run(env, job_id: str, command: str, host: str, pid: int) -> dict:
    """The record of a run on another host whose heartbeat is fresh now (the store's clock)."""
    now = records.utcnow()
    doc = {"run_id": records.new_run_id(job_id, now), "command": command, "trigger": "cli", "interactive": False,
           "host": host, "pid": pid, "user": "etl", "started_at": records.iso(now), "heartbeat_at": records.iso(now),
           "finished_at": None, "status": "running", "stale_after_seconds": 300,
           "tables": [{"table": wsdata.DELIVERY, "status": "pending"}]}
    records.write_doc(LocalStore(env["STORE_URL"].removeprefix("file://")), doc, json.dumps(doc), None)
    return doc


@pilot_test
async def test_a_run_in_progress_elsewhere_is_on_the_jobs_screen(synced_env):
    doc = _live_run(synced_env, "feedfeed0001", "sync", "etl-9", 999999)
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        text = await wait_text(pilot, "running on etl-9")
        assert f"sync {wsdata.DELIVERY}" in text
        grid = app.screen.query_one("#job-list", ListTable)
        grid.select("run:" + doc["run_id"])
        note = app.screen.query_one("#job-remote")
        await wait_for(pilot, lambda: f"its record: s3rb-tui --run history {doc['run_id']}" in str(note.render()), what="the run's note")
        assert "cron@etl-9 (user etl, pid 999999)" in str(note.render())
        await pilot.press("x")
        await wait_for(pilot, lambda: any("cancel it there" in str(n.message) for n in app._notifications), what="the refusal")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailDialog), what="the run's record")


@pilot_test
async def test_a_console_whose_clock_runs_ahead_still_sees_a_live_run_running(synced_env):
    """A run's heartbeat is judged on the store's clock: a console host two hours ahead (its
    clock, not the store's) neither lists a live run as abandoned nor drops it from Jobs."""
    doc = _live_run(synced_env, "feedfeed0002", "backup", "etl-8", 999998)
    app = make_app(synced_env, clock=lambda: records.utcnow() + dt.timedelta(hours=2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await wait_text(pilot, "running on etl-8")
        await pilot.press("7")
        await wait_for(pilot, lambda: pilot.app.current_mode == "history" and pilot.app.screen.is_mounted, what="history screen")
        grid = pilot.app.screen.query_one("#run-list", ListTable)
        await wait_for(pilot, lambda: doc["run_id"] in grid.shown_keys, what="the live run listed")
        line = next(row for row in screen_text(app).splitlines() if "etl-8" in row)
        assert "running" in line and "ABANDONED" not in line
