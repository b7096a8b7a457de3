"""Every state-changing action of the console goes through its one job runner (issue 14, point 4):
a clean, a set-count and a watermark set or reset each appear on the Jobs screen with their
outcome, and in the log, like a backup does. On the real engine parts of the demo stack."""

from __future__ import annotations

from textual.widgets import Button, Input, Tree

from s3rb_tui.engine.core.events import JobStatus
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app, pilot_test, wait_for, wait_text

SIZE = (120, 36)
TIMESTAMP = "2025-02-20 00:00:00"


async def _files_node(pilot, table: str):
    """Files screen: ``table`` expanded, the cursor on its first folder (nodes looked up afresh:
    the tree is rebuilt when its listing arrives)."""
    await pilot.press("4")
    tree = pilot.app.screen.query_one("#file-tree", Tree)

    def table_node():
        return next((n for n in tree.root.children if (n.data or {}).get("table") == table), None)

    def first_folder():
        node = table_node()
        child = node.children[0] if node is not None and node.children else None
        return child if child is not None and (child.data or {}).get("node") is not None else None

    def on_folder() -> bool:
        data = (tree.cursor_node.data or {}) if tree.cursor_node is not None else {}
        return data.get("table") == table and data.get("node") is not None and data["node"].level != "table"

    await wait_for(pilot, lambda: table_node() is not None, what="table nodes")
    tree.move_cursor(table_node())
    table_node().expand()
    await wait_for(pilot, lambda: first_folder() is not None, what="the table's folders")
    looks = {"on": 0}

    def settled() -> bool:
        """The cursor stayed on the folder over a few looks (a listing that arrives late rebuilds
        the tree under it: then it is put back)."""
        if on_folder():
            looks["on"] += 1
        else:
            looks["on"] = 0
            folder = first_folder()
            if folder is not None:
                tree.move_cursor(folder)
        return looks["on"] >= 4

    await wait_for(pilot, settled, what="the cursor on the folder")


async def _watermark_of(pilot, table: str) -> None:
    await pilot.press("3")
    await wait_text(pilot, "Watermark Status for")
    names = [name for name, _ in pilot.app.screen._rows]
    for _ in range(names.index(table)):
        await pilot.press("down")
    await wait_text(pilot, f"Watermark Status for {table}")


async def _open_wizard(pilot, table: str) -> None:
    await _watermark_of(pilot, table)
    await pilot.press("m")
    await wait_text(pilot, "1/4  What do you want to do?")


def _only_job(app, name: str):
    jobs = [j for j in app.jobs.values() if j.name == name]
    assert len(jobs) == 1, [(j.name, j.title) for j in app.jobs.values()]
    return jobs[0]


def _log_of(app, job) -> list[str]:
    return [ln.text for ln in app.log_buffer.lines if ln.job_id == job.job_id]


async def _on_jobs_screen(pilot, job) -> str:
    """The Jobs screen lists the job with its outcome, and its log lines are in the log pane."""
    await pilot.press("5")
    await wait_for(pilot, lambda: pilot.app.current_mode == "jobs" and pilot.app.screen.is_mounted, what="jobs screen")
    text = await wait_text(pilot, job.title)
    line = next(line for line in text.splitlines() if job.title in line)
    assert str(job.status) in line, line
    return text


@pilot_test
async def test_a_clean_from_files_is_a_job_on_jobs_and_in_the_log(synced_env):
    table = wsdata.CLAIMS  # loaded: no typed confirmation
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _files_node(pilot, table)
        await pilot.press("c")
        await wait_text(pilot, "Will delete")
        assert app.screen.table == table  # the dialog cleans the folder picked, nothing else
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", what="dialog closed after deleting")
        job = _only_job(app, "clean")
        assert job.status == JobStatus.SUCCESS and job.tables == [table]
        deleted = job.results[0].files
        assert deleted > 0 and job.progress[table].files == deleted
        log = _log_of(app, job)
        assert any(line.startswith("clean finished") for line in log), log
        assert any(f"success — 0 rows, {deleted} files" in line for line in log), log
        await _on_jobs_screen(pilot, job)


@pilot_test
async def test_a_set_count_is_a_job_on_jobs_and_in_the_log(synced_env):
    table = wsdata.CLAIMS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermark_of(pilot, table)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SetCountDialog", what="dialog")
        await pilot.press(*"42")
        await wait_text(pilot, "Cumulative loaded:")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="dialog closed")
        job = _only_job(app, "set-count")
        assert job.status == JobStatus.SUCCESS and job.tables == [table]
        assert job.results[0].details["after"] == {"extracted": 42, "loaded": 42}
        log = _log_of(app, job)
        assert any(line.startswith("cumulative counts set") for line in log), log
        await _on_jobs_screen(pilot, job)
    with Workspace(build_settings(synced_env)) as ws:
        wm = ws.watermarks.get(ws.table_ref(table))
    assert (wm.cumulative.extracted, wm.cumulative.loaded) == (42, 42)


@pilot_test
async def test_a_refused_set_count_is_a_failed_job_and_the_dialog_stays(synced_env):
    """A change the engine refuses (the table's lock is held) fails as a job, with the engine's
    message, and the dialog stays open to try again."""
    from s3rb_tui.engine.state.locks import TableLock

    table = wsdata.CLAIMS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermark_of(pilot, table)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SetCountDialog", what="dialog")
        await pilot.press(*"42")
        await wait_text(pilot, "Cumulative loaded:")
        holder = TableLock(app.workspace.store, app.workspace.table_ref(table), purpose="a cron backup").acquire()
        try:
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(j.name == "set-count" and not j.running for j in app.jobs.values()), what="the job")
        finally:
            holder.release()
        job = _only_job(app, "set-count")
        assert job.status == JobStatus.FAILED and "a cron backup" in (job.error or ""), job.error
        await wait_text(pilot, "not applied:")
        assert app.screen.__class__.__name__ == "SetCountDialog"
        assert not app.screen.query_one("#apply", Button).disabled


@pilot_test
async def test_a_watermark_set_from_the_wizard_is_a_job_on_jobs_and_in_the_log(synced_env):
    table = wsdata.DELIVERY
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_wizard(pilot, table)
        await pilot.click("#next-1")
        await wait_for(pilot, lambda: app.screen.query_one("#timestamp", Input).has_focus, what="timestamp input focused")
        await pilot.press(*TIMESTAMP, "enter")
        await wait_text(pilot, "Source rows after it:")
        await wait_for(pilot, lambda: not app.screen.query_one("#apply", Button).disabled, what="Apply enabled")
        await pilot.click("#apply")
        await wait_text(pilot, "4/4  Applied")
        job = _only_job(app, "watermark")
        assert job.status == JobStatus.SUCCESS and job.tables == [table] and TIMESTAMP in job.title
        log = _log_of(app, job)
        assert any(line.startswith("watermark set applied") for line in log), log
        await pilot.click("#close")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
        await _on_jobs_screen(pilot, job)


@pilot_test
async def test_a_watermark_reset_from_the_wizard_is_a_job(synced_env):
    table = wsdata.PARTNERS
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open_wizard(pilot, table)
        await pilot.click("#op-reset")
        await pilot.click("#next-1")
        await wait_text(pilot, "Committed files kept in the store:")
        await pilot.click("#apply")
        await wait_text(pilot, "watermark reset; the next backup is a full one")
        job = _only_job(app, "watermark")
        assert job.status == JobStatus.SUCCESS and job.title == f"watermark reset {table}"
        assert any(line.startswith("watermark reset applied") for line in _log_of(app, job))
