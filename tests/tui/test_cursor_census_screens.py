"""The rows no watermark can see, where the operator looks (issue 13, console leftovers): the
latest run's count of rows with a cursor later than the source's clock and with a NULL cursor,
and the engine's cursor warnings, on the Dashboard (a mark on the table's row, the counts and what
to do under the list for the selected table) and on Tables (with the preflight)."""

from __future__ import annotations

from dataclasses import replace

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app, pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)
WARNING = "7 rows have delivered_at later than the source's clock: every run leaves them out until the clock passes them"


def _record_census(env: dict[str, str], table: str) -> None:
    """The census a run would have recorded in the table's watermark."""
    with Workspace(build_settings(env)) as ws:
        ref = ws.table_ref(table)
        ws.watermarks.update(ref, lambda wm: replace(wm, cursor_census={"future_rows": 7, "null_rows": 3},
                                                     cursor_warnings=[WARNING]))


@pilot_test
async def test_the_dashboard_marks_the_table_and_says_what_the_watermark_cannot_see(synced_env):
    _record_census(synced_env, wsdata.DELIVERY)
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "settlement_normal_delivery_detail")
        listed = app.screen.query_one("#tables")
        last_run = {row.key: str(row.cells[2]) for row in listed.all_rows}  # the "Last run" cell (it may wrap)
        assert last_run[wsdata.DELIVERY].endswith("⚠"), last_run
        assert "⚠" not in last_run[wsdata.CLAIMS] and "⚠" not in last_run[wsdata.PARTNERS]
        names = listed.shown_keys
        for _ in range(names.index(wsdata.DELIVERY)):
            await pilot.press("down")
        text = await wait_text(pilot, "7 row(s) with a cursor later than the source's clock")
        flat = " ".join(text.split())
        assert "3 row(s) with a NULL cursor (only a full backup takes them)" in flat
        assert "every run leaves them out until the clock passes them" in flat
        await pilot.press("up")  # a table without any: the line goes
        await wait_for(pilot, lambda: "with a cursor later than" not in screen_text(app), what="the line to go")


@pilot_test
async def test_tables_shows_the_census_with_the_preflight(synced_env):
    _record_census(synced_env, wsdata.DELIVERY)
    app = make_app(synced_env)
    app.selected_table = wsdata.DELIVERY
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        text = await wait_text(pilot, "7 row(s) with a cursor later than the source's clock", timeout=60)
        assert "Preflight" in text
