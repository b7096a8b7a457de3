"""The command palette lists every action of every screen, named with its screen, and every go-to,
each once (Quit was listed twice); an action of another screen runs there."""

from __future__ import annotations

from textual.command import CommandPalette

from s3rb_tui.tui.modes import SCREEN_KEYS
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)

#: what an operator looks for, by screen (a sample of each screen's own actions)
EXPECTED = [
    "Dashboard: Sync table", "Dashboard: Backup table", "Dashboard: Filter", "Dashboard: Sort",
    "Tables: Backup", "Tables: Sync", "Tables: Load only", "Tables: Dry run", "Tables: Validate counts", "Tables: Mark",
    "Watermarks: Reset/Set…", "Watermarks: Set count…", "Watermarks: Validate counts",
    "Files: Clean…", "Files: Filter",
    "Jobs: Cancel job", "Jobs: Details",
    "Config: Refresh", "Config: Filter",
    "History: Open run", "History: Filter",
    "Help", "Quit",
]


async def palette_titles(pilot) -> list[str]:
    """Open the palette, read every command it lists (no query: the discovery list), close it."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
    palette = app.screen
    from textual.command import CommandList

    options = palette.query_one(CommandList)
    await wait_for(pilot, lambda: options.option_count >= len(EXPECTED), what="the commands listed")
    await pilot.pause()
    titles = [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)]
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette), what="palette closed")
    return [t.plain if hasattr(t, "plain") else t for t in titles]


@pilot_test
async def test_the_palette_lists_every_screens_actions_and_go_tos_once(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "settlement_claim_detail")
        for key in ("1", "4"):  # the same list whichever screen it is opened on
            await pilot.press(key)
            titles = await palette_titles(pilot)
            for title in EXPECTED + [f"Go to {label}" for _, _, label in SCREEN_KEYS]:
                assert title in titles, (title, titles)
            assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
            assert sum(t.startswith("Quit") for t in titles) == 1, titles


@pilot_test
async def test_an_action_of_another_screen_runs_on_that_screen(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_text(pilot, "Watermark Status for")
        await pilot.press("6")
        await wait_text(pilot, "Settings from:")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"watermarks: reset")
        await wait_text(pilot, "Watermarks: Reset/Set…")
        await pilot.press("enter")
        await wait_text(pilot, "1/4  What do you want to do?")
        assert app.current_mode == "watermarks" and app.screen.table in wsdata.TABLES


@pilot_test
async def test_readonly_palette_has_no_state_changing_action(synced_env):
    app = make_app(synced_env, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_text(pilot, "settlement_claim_detail")
        titles = await palette_titles(pilot)
        for label in ("Backup", "Sync", "Load only", "Dry run", "Reset/Set", "Set count", "Clean", "Cancel job"):
            assert not any(label in t for t in titles), (label, titles)
        assert "Tables: Validate counts" in titles and "Go to Files" in titles
        assert "read-only" in screen_text(app)
