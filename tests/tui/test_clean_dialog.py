"""Guarded clean from the Files tree: the plan is the engine's, Cancel deletes nothing, confirming
deletes exactly the planned keys, and unloaded files need the table name typed."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Input, Tree

from s3rb_tui.engine.stores.layout import table_prefix
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.screens.clean_dialog import make_plan
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, wait_for, wait_text

SIZE = (120, 36)


def store_keys(env) -> set[str]:
    """The store's keys but the run records (a clean is recorded, and its run may prune old records)."""
    with Workspace(build_settings(env)) as ws:
        return {info.key for info in ws.store.list("") if not info.key.startswith("runs/")}


async def _open_files_and_select(pilot, table: str, depth: int):
    """Files screen, expand ``table`` and go ``depth`` levels down (0: the table node)."""
    app = pilot.app
    await pilot.press("4")
    tree = app.screen.query_one("#file-tree", Tree)
    await wait_for(pilot, lambda: any((n.data or {}).get("table") == table for n in tree.root.children), what="table nodes")
    node = next(n for n in tree.root.children if (n.data or {}).get("table") == table)
    tree.move_cursor(node)
    node.expand()
    await wait_for(pilot, lambda: "node" in (node.data or {}), what="table listing")
    for _ in range(depth):
        await wait_for(pilot, lambda: bool(node.children) and "node" in (node.children[0].data or {}), what="children")
        node = node.children[0]
        node.expand()
        tree.move_cursor(node)
    await pilot.pause()
    return node


@pilot_test
async def test_cancel_deletes_nothing(synced_env):
    before = store_keys(synced_env)
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_files_and_select(pilot, wsdata.CLAIMS, depth=1)
        await pilot.press("c")
        await wait_text(pilot, "Will delete")
        assert app.focused.id == "cancel"  # the dialog starts on Cancel
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed")
    assert store_keys(synced_env) == before


@pilot_test
async def test_confirm_deletes_exactly_the_planned_loaded_keys(synced_env):
    table = wsdata.CLAIMS  # loaded by the fixture: no typed confirmation needed
    with Workspace(build_settings(synced_env)) as ws:
        plan = make_plan(ws, table, table_prefix(ws.incremental_path, ws.table_ref(table)) + "year=2025/", include_unloaded=False)
    assert plan.keys and plan.unloaded == 0 and plan.status_known
    before = store_keys(synced_env)
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_files_and_select(pilot, table, depth=1)  # the year=2025 node
        await pilot.press("c")
        text = await wait_text(pilot, "Will delete")
        assert f"Will delete {len(plan.keys):,} file(s)" in text
        delete = app.screen.query_one("#delete", Button)
        assert not delete.disabled and not app.screen.query_one("#confirm-text", Input).display
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed after deleting")
    after = store_keys(synced_env)
    assert before - after == set(plan.keys)


@pilot_test
async def test_unloaded_files_need_the_table_name_typed(synced_env):
    table = wsdata.DELIVERY  # backed up but never loaded
    before = store_keys(synced_env)
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_files_and_select(pilot, table, depth=0)
        await pilot.press("c")
        text = await wait_text(pilot, "Kept (not loaded yet)")
        assert "Nothing to delete." in text  # unloaded files are kept unless asked
        assert app.screen.query_one("#delete", Button).disabled
        app.screen.query_one("#include-unloaded", Checkbox).value = True
        await wait_text(pilot, "NOT loaded yet:")
        await wait_for(pilot, lambda: app.screen.query_one("#confirm-text", Input).display, what="typed confirmation shown")
        delete = app.screen.query_one("#delete", Button)
        assert delete.disabled
        app.screen.query_one("#confirm-text", Input).focus()
        await pilot.press(*"settlement.wrong")
        assert delete.disabled
        app.screen.query_one("#confirm-text", Input).value = ""
        await pilot.press(*table)
        await wait_for(pilot, lambda: not delete.disabled, what="delete enabled by the typed name")
        plan = app.screen.plan
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed after deleting")
    after = store_keys(synced_env)
    assert before - after == set(plan.keys)
    assert all(k.startswith(f"incremental/{table}/") for k in plan.keys) and len(plan.keys) == 3


@pilot_test
async def test_the_age_filter_plans_only_older_files(synced_env):
    """Like --older-than: the files were written on 2025-03-01 06:05 (the console's clock says
    07:30), so older than 2h keeps them all and older than 1h takes them."""
    table = wsdata.CLAIMS
    before = store_keys(synced_env)
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await _open_files_and_select(pilot, table, depth=0)
        await pilot.press("c")
        await wait_text(pilot, "Will delete")
        everything = len(app.screen.plan.keys)
        assert everything > 0
        app.screen.query_one("#older-than", Input).focus()
        await pilot.press(*"2x")
        await wait_text(pilot, "invalid age value '2x'")
        assert app.screen.query_one("#delete", Button).disabled
        app.screen.query_one("#older-than", Input).value = ""
        await pilot.press(*"2h")
        text = await wait_text(pilot, "Will delete 0 file(s), 0 B, last written before 2025-03-01 05:30:00 UTC")
        assert "Nothing to delete." in text and app.screen.query_one("#delete", Button).disabled
        app.screen.query_one("#older-than", Input).value = "1h"
        await wait_text(pilot, f"Will delete {everything:,} file(s)")
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed after deleting")
    assert len(before - store_keys(synced_env)) == everything


@pilot_test
async def test_the_tree_stays_open_after_a_delete(synced_env):
    """Bug 10: after a delete the Files tree collapsed to its tables; the operator lost their place."""
    table = wsdata.DELIVERY
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        hour = await _open_files_and_select(pilot, table, depth=4)  # year, month, day, hour
        await wait_for(pilot, lambda: len(hour.children) == 3, what="the hour's three files")
        tree = app.screen.query_one("#file-tree", Tree)
        first_file = hour.children[0]
        tree.move_cursor(first_file)
        await pilot.press("c")
        await wait_text(pilot, "Kept (not loaded yet)")
        app.screen.query_one("#include-unloaded", Checkbox).value = True
        await wait_for(pilot, lambda: app.screen.query_one("#confirm-text", Input).display, what="typed confirmation")
        app.screen.query_one("#confirm-text", Input).value = table
        await wait_for(pilot, lambda: not app.screen.query_one("#delete", Button).disabled, what="delete enabled")
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed")
        await wait_text(pilot, "2025-03-01_06-00-00_batch_0003.parquet")  # still open down to the files
        text = await wait_text(pilot, "2 files")
        assert "2025-03-01_06-00-00_batch_0001.parquet" not in text  # the deleted one is gone
        node = tree.cursor_node
        assert node is not None and (node.data or {}).get("table") == table  # the cursor stayed in the table


@pilot_test
async def test_a_locked_table_is_named_in_the_plan_and_keeps_its_files(synced_env):
    """A backup elsewhere holds the table: the dialog says who before anything can be confirmed,
    plans nothing of it, and Delete stays disabled."""
    from s3rb_tui.engine.state.locks import TableLock

    before = store_keys(synced_env)
    with Workspace(build_settings(synced_env)) as ws, TableLock(ws.store, ws.table_ref(wsdata.CLAIMS), purpose="backup (intra-table)") as lock:
        app = make_app(synced_env)
        async with app.run_test(size=SIZE) as pilot:
            await _open_files_and_select(pilot, wsdata.CLAIMS, depth=1)
            await pilot.press("c")
            text = await wait_text(pilot, "Kept (the table is locked by backup (intra-table) on host")
            assert "Will delete 0 file(s)" in text and "Nothing to delete." in text
            assert app.screen.query_one("#delete", Button).disabled
        assert store_keys(synced_env) == before | {lock.key}
