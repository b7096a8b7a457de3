"""A walk through every console screen, ready for a screenshot: each step navigates with keys and
waits until the screen's data is on it. Shared by the SVG snapshot tests and scripts/screenshots.py."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Tree

from s3rb_tui.tui.widgets.list_table import ListTable

from tests.tui import workspace as wsdata
from tests.tui.helpers import screen_text, wait_for, wait_text


async def dashboard(pilot) -> None:
    # the first screen composes as the app starts: its widgets may not be mounted yet
    await wait_for(pilot, lambda: pilot.app.screen.query("#tables"), what="the dashboard's table")
    grid = pilot.app.screen.query_one("#tables", DataTable)
    await wait_for(pilot, lambda: grid.row_count == 3, what="dashboard rows")
    await wait_text(pilot, "settlement_normal_delivery_detail")
    if pilot.app.size.width >= 120:
        await wait_text(pilot, "3,000 / 0")
    await pilot.pause()


async def tables(pilot) -> None:
    await pilot.press("2")
    await wait_text(pilot, "Warehouse type")
    grid = pilot.app.screen.query_one("#source-tables", ListTable)
    await wait_for(pilot, lambda: len(grid.shown_keys) >= 3, what="source tables")
    grid.select(wsdata.CLAIMS)
    await wait_text(pilot, f"{wsdata.CLAIMS} — incremental")
    await wait_text(pilot, "Preflight")
    await pilot.pause()


async def watermarks(pilot) -> None:
    await pilot.press("3")
    await wait_text(pilot, "Watermark Status for")
    pilot.app.screen.query_one("#wm-tables", ListTable).select(wsdata.DELIVERY)
    await wait_text(pilot, f"Watermark Status for {wsdata.DELIVERY}")
    await pilot.pause()


async def watermark_wizard(pilot) -> None:
    await watermarks(pilot)
    await pilot.press("m")
    await wait_text(pilot, "1/4  What do you want to do?")
    await pilot.click("#next-1")
    await wait_for(pilot, lambda: pilot.app.screen.query_one("#timestamp", Input).has_focus, what="timestamp input")
    await pilot.press(*"2025-02-20 00:00:00", "enter")
    await wait_text(pilot, "Source rows after it:")
    await pilot.pause()


async def files(pilot) -> None:
    await dashboard(pilot)  # the dashboard's selection (its first table) opens expanded on Files
    await pilot.press("4")
    tree = pilot.app.screen.query_one("#file-tree", Tree)
    await wait_for(pilot, lambda: len(tree.root.children) == 3, what="table nodes")
    first = next(n for n in tree.root.children if n.data["table"] == wsdata.PARTNERS)
    await wait_for(pilot, lambda: "node" in first.data, what="the selected table listed")
    node = next(n for n in tree.root.children if n.data["table"] == wsdata.DELIVERY)
    node.expand()
    await wait_for(pilot, lambda: "node" in node.data, what="listing")
    while node.children and "node" in (node.children[0].data or {}):
        node = node.children[0]
        node.expand()
        await pilot.pause()
    tree.move_cursor(node)
    await wait_text(pilot, "1,000 rows")
    await pilot.pause()


async def clean_dialog(pilot) -> None:
    await files(pilot)
    await pilot.press("c")
    await wait_text(pilot, "Kept (not loaded yet)")
    # the screenshot composites the Files screen under the dialog: under load (CI beside other
    # work) it was once taken with the dialog alone
    await wait_for(pilot, lambda: "partner_info" in pilot.app.export_screenshot(), what="the Files screen under the dialog")
    await pilot.pause()


async def jobs(pilot) -> None:
    """Needs a workspace with source data only: runs a real sync of the delivery table."""
    await pilot.press("2")
    grid = pilot.app.screen.query_one("#source-tables", ListTable)
    await wait_for(pilot, lambda: len(grid.shown_keys) >= 3, what="source tables")
    grid.select(wsdata.DELIVERY)
    await wait_text(pilot, f"{wsdata.DELIVERY} — incremental")
    await pilot.press("s")
    await wait_for(pilot, lambda: pilot.app.jobs and not any(j.running for j in pilot.app.jobs.values()), timeout=120, what="sync done")
    await wait_text(pilot, "sync settlement.settlement_normal_delivery_detail: success")
    await wait_for(pilot, lambda: "job running" not in screen_text(pilot.app), what="nav bar updated")
    await pilot.pause(0.3)


async def config(pilot) -> None:
    await pilot.press("6")
    await wait_text(pilot, "Settings from:")
    await pilot.pause()


async def history(pilot) -> None:
    await pilot.press("7")
    await wait_text(pilot, "3 run(s), 1 failed")
    await wait_text(pilot, "console@ops-1")
    await pilot.pause()


async def help_screen(pilot) -> None:
    await watermarks(pilot)
    await pilot.press("f1")
    await wait_text(pilot, "Help — Watermarks")
    await pilot.pause()


#: name -> (step, workspace kind): "synced" (the snapshot workspace) or "source" (data only)
SCREENS = {
    "dashboard": (dashboard, "synced"),
    "tables": (tables, "synced"),
    "watermarks": (watermarks, "synced"),
    "watermark_wizard": (watermark_wizard, "synced"),
    "files": (files, "synced"),
    "clean_dialog": (clean_dialog, "synced"),
    "jobs": (jobs, "source"),
    "config": (config, "synced"),
    "history": (history, "synced"),
    "help": (help_screen, "synced"),
}
