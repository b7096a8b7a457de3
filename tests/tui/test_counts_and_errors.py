"""Set-count and validate-counts from the Watermarks screen, and worker errors that must not crash
the console."""

from __future__ import annotations

from textual.widgets import Input

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)


async def _watermark_of(pilot, table: str) -> None:
    await pilot.press("3")
    await wait_text(pilot, "Watermark Status for")
    names = [name for name, _ in pilot.app.screen._rows]
    for _ in range(names.index(table)):
        await pilot.press("down")
    await wait_text(pilot, f"Watermark Status for {table}")


@pilot_test
async def test_set_count_additive_previews_and_writes(synced_env):
    table = wsdata.CLAIMS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermark_of(pilot, table)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SetCountDialog", what="dialog")
        await pilot.press(*"50")
        await pilot.click("#mode-additive")
        await wait_text(pilot, "Cumulative extracted: 300 → 350")
        assert app.screen.query_one("#count", Input).value == "50"
        await pilot.click("#apply")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="dialog closed")
        await wait_text(pilot, "350 rows")
    with Workspace(build_settings(synced_env)) as ws:
        wm = ws.watermarks.get(ws.table_ref(table))
    assert (wm.cumulative.extracted, wm.cumulative.loaded) == (350, 350)


@pilot_test
async def test_enter_applies_set_count_and_the_dialog_says_it_sets_both_totals(synced_env):
    """Bug 10: Enter did nothing in the set-count dialog, which did not say it changes both totals."""
    table = wsdata.PARTNERS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermark_of(pilot, table)
        await pilot.press("n")
        text = await wait_text(pilot, "Sets both cumulative totals")
        assert "MySQL extracted and Redshift loaded" in " ".join(text.split())
        await pilot.press(*"42")
        await wait_text(pilot, "Cumulative loaded:    200 → 42")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="dialog closed by Enter")
    with Workspace(build_settings(synced_env)) as ws:
        wm = ws.watermarks.get(ws.table_ref(table))
    assert (wm.cumulative.extracted, wm.cumulative.loaded) == (42, 42)


@pilot_test
async def test_validate_counts_shows_the_engines_report(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermark_of(pilot, wsdata.PARTNERS)
        await pilot.press("v")
        await wait_text(pilot, "Validate counts — settlement.partner_info")
        await wait_text(pilot, "warehouse:  200 rows")
        assert "✗" not in screen_text(app)


@pilot_test
async def test_a_failing_worker_notifies_and_the_console_keeps_running(synced_env):
    env = dict(synced_env, DB_SQLITE_PATH=synced_env["DB_SQLITE_PATH"] + ".missing")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")  # the Tables screen reads the (missing) source in a worker
        await wait_for(pilot, lambda: any("not found" in str(n.message) for n in app._notifications), what="error notification")
        assert app.is_running
        await pilot.press("3")
        await wait_text(pilot, "Watermark Status for")  # the rest still works
