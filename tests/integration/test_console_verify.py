"""The console's Verify rows (V on Tables) against MariaDB and a DuckDB warehouse: a job with
segment progress whose log lists the keys by kind and the columns that differ, recorded in the
store like a headless verify (issue 15: every run writes a record)."""

from __future__ import annotations

import pytest

from s3rb_tui.engine.history.records import list_records
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.support.verify_stand import EDGE_DDL, EDGE_FILL, _setup
from tests.tui.helpers import make_app, pilot_test, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def synced(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    wh.run("UPDATE public.edge SET t = 'changed' WHERE id = 7", "DELETE FROM public.edge WHERE id = 9")
    return env, f"{mysql_db}.edge"


@pilot_test
async def test_verify_rows_from_tables_shows_the_keys_by_kind(synced):
    env, table = synced
    app = make_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        grid = app.screen.query_one("#source-tables", ListTable)
        await wait_for(pilot, lambda: table in grid.shown_keys, timeout=60, what="the table listed")
        grid.focus()
        grid.select(table)
        await pilot.press("V")
        await wait_for(pilot, lambda: any(j.name == "verify" for j in app.jobs.values()), what="the verify job")
        job = next(j for j in app.jobs.values() if j.name == "verify")
        await wait_for(pilot, lambda: not job.running, timeout=120, what="verify to end")
        assert job.status == "failed" and "1 missing, 0 extra, 1 different" in (job.error or ""), (job.error, job.hint)
        assert "--run repair" in (job.hint or "")
        lines = [ln.text for ln in app.log_buffer.after(0)]
        assert any("missing in the warehouse (1): 9" in ln for ln in lines), lines
        assert any("different (1): 7" in ln for ln in lines) and any("columns that differ: t (1)" in ln for ln in lines)
        (run,) = list_records(LocalStore(env["STORE_URL"].removeprefix("file://")), commands=["verify"])
        assert (run.status, run.doc["trigger"], run.where.split("@")[0]) == ("failed", "console", "console")
        assert run.tables[0]["differences"] == {"missing_in_warehouse": 1, "extra_in_warehouse": 0, "different": 1}


@pilot_test
async def test_repair_from_the_verify_job_on_jobs_makes_the_warehouse_equal(synced):
    from textual.widgets import Button

    from s3rb_tui.tui.screens.dialogs import ConfirmDialog

    env, table = synced
    app = make_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        grid = app.screen.query_one("#source-tables", ListTable)
        await wait_for(pilot, lambda: table in grid.shown_keys, timeout=60, what="the table listed")
        grid.focus()
        grid.select(table)
        await pilot.press("V")
        await wait_for(pilot, lambda: any(j.name == "verify" and not j.running for j in app.jobs.values()), timeout=120, what="verify")
        await wait_for(pilot, lambda: app.screen.query("#job-list"), what="the Jobs screen")
        app.screen.query_one("#job-list", ListTable).focus()
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), timeout=120, what="the plan dialog")
        dialog = app.screen
        assert "Re-extract 2 key(s) from the source: 9; 7" in dialog.body and "Delete 0 warehouse row(s)" in dialog.body, dialog.body
        assert "Columns that differ: t (1)" in dialog.body and "Ratio guard: allowed" in dialog.body
        assert dialog.query_one("#cancel", Button).has_focus
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: any(j.name == "repair" and not j.running for j in app.jobs.values()), timeout=120, what="the repair")
        job = next(j for j in app.jobs.values() if j.name == "repair")
        assert job.status == "success", (job.error, job.hint)
        assert job.results[0].details["reverify"]["equal"]
        runs = list_records(LocalStore(env["STORE_URL"].removeprefix("file://")), commands=["repair", "verify"])
        assert [(r.command, r.status, r.doc["trigger"]) for r in runs] == [("repair", "success", "console"), ("verify", "failed", "console")]
        assert runs[0].tables[0]["rows_loaded"] == 2  # the plan job is a preview: not a run of its own
