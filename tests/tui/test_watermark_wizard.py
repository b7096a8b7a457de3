"""The guided watermark set/reset: preview numbers are the engine's plan; applying records manual_cli."""

from __future__ import annotations

from textual.widgets import Button, Input

from s3rb_tui.engine.ops import watermark_changes
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, region_text, screen_text, wait_for, wait_text

SIZE = (120, 36)
TIMESTAMP = "2025-02-20 00:00:00"


async def _open_wizard(pilot, table: str):
    app = pilot.app
    await pilot.press("3")
    await wait_text(pilot, "Watermark Status for")
    names = [name for name, _ in app.screen._rows]
    for _ in range(names.index(table)):
        await pilot.press("down")
    await wait_text(pilot, f"Watermark Status for {table}")
    await pilot.press("m")
    await wait_text(pilot, "1/4  What do you want to do?")


@pilot_test
async def test_guided_set_writes_manual_cli_and_preview_matches_engine(synced_env):
    table = wsdata.DELIVERY
    with Workspace(build_settings(synced_env)) as ws:
        expected = watermark_changes.plan_set(ws, ws.table_ref(table), TIMESTAMP)
        before = ws.watermarks.get(ws.table_ref(table))
    assert expected.source_rows_after and expected.files_after  # the numbers mean something

    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_wizard(pilot, table)
        await pilot.click("#next-1")
        await wait_for(pilot, lambda: app.screen.query_one("#timestamp", Input).has_focus, what="timestamp input focused")
        await pilot.press(*"2025-02-20 1")  # half typed
        assert "use YYYY-MM-DD HH:MM:SS" in screen_text(app)
        assert app.screen.query_one("#next-2", Button).disabled
        app.screen.query_one("#timestamp", Input).value = ""
        await pilot.press(*TIMESTAMP)
        await wait_text(pilot, "✓ valid")
        await pilot.press("enter")
        text = await wait_text(pilot, "Source rows after it:")
        assert f"Source rows after it:        {expected.source_rows_after:,}" in text
        assert f"Store files written after it: {expected.files_after} " in text
        to_load = "unknown (warehouse not reachable)" if expected.files_to_load is None else str(expected.files_to_load)
        assert f"--redshift-only would load:   {to_load} file(s)" in text
        assert app.focused.id == "cancel-3"  # the preview's default is Cancel
        await pilot.click("#apply")
        await wait_text(pilot, "4/4  Applied")
        await pilot.click("#close")
        await wait_for(pilot, lambda: "Manual Timestamp:" in screen_text(app), what="watermark view refreshed")

    with Workspace(build_settings(synced_env)) as ws:
        after = ws.watermarks.get(ws.table_ref(table))
    assert after.backup_strategy == "manual_cli"
    assert after.mysql_status == "manual"
    assert after.last_data_timestamp == TIMESTAMP == after.manual_timestamp
    assert after.cumulative == before.cumulative  # set moves the position, not the counts


@pilot_test
async def test_cancel_at_preview_changes_nothing(synced_env):
    table = wsdata.CLAIMS
    with Workspace(build_settings(synced_env)) as ws:
        before, etag_before = ws.watermarks.read(ws.table_ref(table))
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_wizard(pilot, table)
        await pilot.click("#op-reset")
        await pilot.click("#next-1")
        await wait_text(pilot, "Committed files kept in the store:")
        await pilot.press("enter")  # focus is on Cancel
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
    with Workspace(build_settings(synced_env)) as ws:
        after, etag_after = ws.watermarks.read(ws.table_ref(table))
    assert etag_after == etag_before and after == before


@pilot_test
async def test_guided_reset_applies_the_engines_reset(synced_env):
    table = wsdata.PARTNERS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_wizard(pilot, table)
        await pilot.click("#op-reset")
        await pilot.click("#next-1")
        await wait_text(pilot, "Committed files kept in the store:")
        await pilot.click("#apply")
        await wait_text(pilot, "watermark reset; the next backup is a full one")
    with Workspace(build_settings(synced_env)) as ws:
        after = ws.watermarks.get(ws.table_ref(table))
    assert after.mysql_status == "reset" and after.last_data_timestamp is None
    assert after.cumulative.extracted == 0 and after.committed_through  # file history kept


async def _set_and_apply(pilot, table: str) -> None:
    app = pilot.app
    await _open_wizard(pilot, table)
    await pilot.click("#next-1")
    await wait_for(pilot, lambda: app.screen.query_one("#timestamp", Input).has_focus, what="timestamp input focused")
    await pilot.press(*TIMESTAMP, "enter")
    await wait_text(pilot, "Source rows after it:")
    await wait_for(pilot, lambda: not app.screen.query_one("#apply", Button).disabled, what="Apply enabled")
    await pilot.click("#apply")
    await wait_text(pilot, "4/4  Applied")


@pilot_test
async def test_the_load_is_offered_only_when_it_would_load_files(synced_env):
    """Bug 10: the wizard offered "Run --redshift-only load now" when it would load 0 files."""
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _set_and_apply(pilot, wsdata.CLAIMS)  # every file loaded already by the fixture
        done = app.screen.query_one("#done")
        await wait_for(pilot, lambda: "a --redshift-only load would load nothing" in region_text(app, done), what="the note")
        assert not app.screen.query_one("#load", Button).display
        assert "Run --redshift-only load now" not in screen_text(app)
        await pilot.click("#close")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
        await _set_and_apply(pilot, wsdata.DELIVERY)  # backed up, never loaded: 3 files waiting
        done = app.screen.query_one("#done")
        await wait_for(pilot, lambda: "would now pick up 3 file(s)" in region_text(app, done), what="the offer")
        assert app.screen.query_one("#load", Button).display
