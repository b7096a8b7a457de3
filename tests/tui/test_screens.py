"""Every screen on the deterministic synced workspace: what an operator checks on each, the help
screen, the command palette, --readonly, and the 80x24 layout."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import DataTable, Tree

from s3rb_tui.tui.palette import console_actions
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)
DESTRUCTIVE_KEYS = {"b", "s", "l", "e", "m", "n", "c", "x"}


@pilot_test
async def test_dashboard_lists_every_table_with_counts(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.query_one("#tables", DataTable)
        await wait_for(pilot, lambda: grid.row_count == 3, what="three table rows")
        text = await wait_text(pilot, "3,000 / 0")
        for table in wsdata.TABLES:
            assert table.split(".", 1)[1] in text, text  # DB_DATABASE's tables are shown unscoped
        # claims were loaded by the fixture (300 rows), deliveries only backed up (3,000 waiting)
        assert "300 / 300" in text and "3,000 / 0" in text
        health = app.screen.query_one("#health", DataTable)
        assert health.row_count >= 1


@pilot_test
async def test_tables_screen_marks_views_filters_and_shows_type_mapping(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        grid = app.screen.query_one("#source-tables", ListTable)
        await wait_for(pilot, lambda: len(grid.shown_keys) >= 3, what="source tables")
        await wait_text(pilot, "Warehouse type")
        await pilot.press("slash", *"claim")
        await wait_for(pilot, lambda: grid.shown_keys == [wsdata.CLAIMS], what="filtered list")
        await pilot.press("enter")
        text = await wait_text(pilot, f"{wsdata.CLAIMS} — incremental")
        assert "update_at" in text and "cursor" in text and "DECIMAL" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(grid.shown_keys) >= 3, what="filter cleared")


@pilot_test
async def test_files_tree_totals_and_footer_row_counts(synced_env):
    app = make_app(synced_env, stable=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        tree = app.screen.query_one("#file-tree", Tree)
        await wait_for(pilot, lambda: len(tree.root.children) == 3, what="three tables")
        node = next(n for n in tree.root.children if n.data["table"] == wsdata.DELIVERY)
        node.expand()
        await wait_for(pilot, lambda: "node" in node.data, what="listing")
        assert node.data["node"].count == 3 and node.data["node"].unloaded == 3
        while node.children and "node" in (node.children[0].data or {}):
            node = node.children[0]
            node.expand()
            await pilot.pause()
        await wait_text(pilot, "2025-03-01_06-00-00_batch_0001.parquet")
        await wait_text(pilot, "1,000 rows")  # read from the Parquet footer
        assert "✗ not loaded" in screen_text(app)


@pilot_test
async def test_config_masks_secrets_and_names_the_source(synced_env):
    env = dict(synced_env, REDSHIFT_PASSWORD="hunter2-secret", S3_ACCESS_KEY="AKIAEXAMPLE", S3_SECRET_KEY="very-secret-key")
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        grid = app.screen.query_one("#config-table", DataTable)
        await wait_for(pilot, lambda: grid.row_count > 40, what="settings listed")
        grid.select("REDSHIFT_PASSWORD")
        text = await wait_text(pilot, "REDSHIFT_PASSWORD")
        assert "hunter2-secret" not in text and "very-secret-key" not in text
        assert "****" in text and "Settings from:" in text
        app.show_error("test", RuntimeError("login failed for password hunter2-secret"))
        await pilot.pause()
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "login failed" in shown and "hunter2-secret" not in shown


@pilot_test
async def test_help_and_palette_list_the_screens_actions(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_text(pilot, "Watermark Status for")
        await pilot.press("question_mark")
        text = await wait_text(pilot, "Help — Watermarks")
        assert "Reset/Set…" in text and "Set count…" in text
        await pilot.press("escape")
        titles = [a.title for a in console_actions(app)]
        assert "Watermarks: Reset/Set…" in titles and "Go to Files" in titles and "Quit" in titles
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"go to files")
        await wait_text(pilot, "Go to Files")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "files", what="files via the palette")


@pilot_test
async def test_readonly_hides_and_blocks_destructive_actions(synced_env):
    app = make_app(synced_env, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        for key, mode in (("1", "dashboard"), ("2", "tables"), ("3", "watermarks"), ("4", "files"), ("5", "jobs")):
            await pilot.press(key)
            await wait_for(pilot, lambda: app.current_mode == mode, what=mode)
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            for label in ("Backup", "Sync", "Load only", "Dry run", "Verify", "Reset/Set", "Set count", "Clean", "Cancel job"):
                assert label not in footer, (mode, label, footer)
            titles = " ".join(a.title for a in console_actions(app))
            for label in ("Backup", "Sync", "Reset/Set", "Clean", "Set count"):
                assert label not in titles
            for key_ in DESTRUCTIVE_KEYS:
                await pilot.press(key_)
            await pilot.pause()
            assert not app.jobs and len(app.screen_stack) == 1, mode  # no job, no dialog opened
        assert "read-only" in screen_text(app)


@pilot_test
async def test_dashboard_fits_80x24(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.screen.query_one("#tables", DataTable)
        await wait_for(pilot, lambda: grid.row_count == 3, what="rows")
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and "Help" in lines[-1] and "Dashboard" in lines[1]


@pilot_test
async def test_first_frame_comes_before_the_status_poll_and_the_key_bar(synced_env):
    """Start-up: the first displayed frame does not wait for the engine (no Workspace yet, the note
    says the status is being read) nor for the key bar; both fill in right after it."""
    from s3rb_tui.settings import build_settings
    from s3rb_tui.tui.app import ConsoleApp
    from s3rb_tui.tui.widgets.key_footer import KeyFooter

    seen: dict[str, object] = {}

    class FirstFrame(ConsoleApp):
        def post_display_hook(self) -> None:
            was_shown = self.first_frame_shown
            super().post_display_hook()
            if self.first_frame_shown and not was_shown:  # this display reached the screen
                seen["workspace_built"] = self._workspace is not None
                seen["poll_started"] = self.screen._polling or self.screen.query_one("#tables", DataTable).row_count > 0
                seen["text"] = screen_text(self)
                seen["footer_keys"] = len(self.screen.query_one(KeyFooter).children)

    app = FirstFrame(build_settings(synced_env), refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        grid = app.screen.query_one("#tables", DataTable)
        await wait_for(pilot, lambda: grid.row_count == 3, what="three table rows")
        await wait_text(pilot, "Help")
        assert seen == {"workspace_built": False, "poll_started": False, "text": seen["text"], "footer_keys": 0}
        assert "reading the status checks" in str(seen["text"]) and "Total ext/ld" in str(seen["text"]), seen["text"]
        assert "reading the status checks" not in screen_text(app)
