"""Tables: several tables marked with space and synced or backed up in one job; a schema's line
marks all its tables; the list is grouped by schema."""

from __future__ import annotations

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)


async def _tables(pilot):
    app = pilot.app
    await pilot.press("2")
    grid = app.screen.query_one("#source-tables")
    await wait_for(pilot, lambda: len(grid.shown_keys) == 3, what="the three tables")
    grid.focus()
    return grid


async def _move_to(pilot, grid, key: str) -> None:
    for _ in range(len(grid.shown_keys) + 2):
        if grid.selected_key == key:
            return
        await pilot.press("down" if grid.shown_keys.index(key) > grid.shown_keys.index(grid.selected_key or grid.shown_keys[0]) else "up")
    assert grid.selected_key == key


@pilot_test
async def test_space_marks_tables_and_sync_runs_them_in_one_job(source_only_env):
    app = make_app(source_only_env)
    async with app.run_test(size=SIZE) as pilot:
        grid = await _tables(pilot)
        assert grid.shown_groups == [wsdata.SCHEMA]  # grouped by schema
        for table in (wsdata.PARTNERS, wsdata.CLAIMS):
            await _move_to(pilot, grid, table)
            await pilot.press("space")
        assert grid.marked_keys() == [wsdata.PARTNERS, wsdata.CLAIMS]
        await wait_text(pilot, "● partner_info")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.current_mode == "jobs", what="jobs screen")
        [job] = app.jobs.values()
        assert sorted(job.tables) == sorted([wsdata.PARTNERS, wsdata.CLAIMS])
        await wait_for(pilot, lambda: not job.running, timeout=120, what="the sync")
        assert job.status == "success" and {r.table for r in job.results} == {wsdata.PARTNERS, wsdata.CLAIMS}
        await pilot.press("2")
        await wait_for(pilot, lambda: not grid.marked_keys(), what="marks used once")
    with Workspace(build_settings(source_only_env)) as ws:
        assert ws.watermarks.get(ws.table_ref(wsdata.DELIVERY)) is None  # not marked, not touched


@pilot_test
async def test_space_on_a_schema_marks_all_its_tables_and_backup_takes_them(source_only_env):
    app = make_app(source_only_env)
    async with app.run_test(size=SIZE) as pilot:
        grid = await _tables(pilot)
        await pilot.press("up")  # from the first table to its schema's line
        await wait_for(pilot, lambda: grid.selected_group == wsdata.SCHEMA and grid.selected_key is None, what="the schema line")
        await wait_text(pilot, "space marks them all")
        await pilot.press("space")
        assert grid.marked_keys() == sorted(wsdata.TABLES)
        await pilot.press("b")
        await wait_for(pilot, lambda: app.jobs, what="a job")
        [job] = app.jobs.values()
        assert sorted(job.tables) == sorted(wsdata.TABLES)
        await wait_for(pilot, lambda: not job.running, timeout=120, what="the backup")
        assert job.status == "success", (job.error, screen_text(app))
