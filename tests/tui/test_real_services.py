"""The console against the real services: MariaDB (Sakila), the S3 endpoint and PostgreSQL as the
warehouse. Health, a view marked in Tables, a sync started from the console, its files marked as
loaded, and a guarded clean that removes exactly the planned S3 keys."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Tree

from s3rb_tui.engine.counts import validate_table
from s3rb_tui.engine.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui.conftest import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

pytestmark = pytest.mark.integration
SIZE = (120, 36)


@pytest.fixture
def services_env(make_env, sakila_shared, pg_db, tmp_path):
    return make_env(WAREHOUSE_DIALECT="postgres", S3RB_CONFIG=str(tmp_path / "none.toml"), BACKUP_BATCH_SIZE="50")


@pilot_test
async def test_console_on_mariadb_s3_and_postgres(services_env, sakila_shared):
    table = f"{sakila_shared}.actor"
    app = make_app(services_env)
    async with app.run_test(size=SIZE) as pilot:
        health = app.screen.query_one("#health", DataTable)
        await wait_for(pilot, lambda: health.row_count >= 4, timeout=60, what="health checks")
        text = screen_text(app)
        assert "FAIL" not in text and text.count(" ok ") >= 3, text

        await pilot.press("2")
        grid = app.screen.query_one("#source-tables", ListTable)
        await wait_for(pilot, lambda: len(grid.shown_keys) > 10, timeout=60, what="sakila tables")
        assert any("(view)" in row.plain()[0] for row in grid.all_rows)  # sakila has views; they are marked
        grid.focus()
        grid.select(table)
        await wait_text(pilot, f"{table} — incremental")
        assert "last_update" in screen_text(app)

        await pilot.press("s")
        job = next(iter(app.jobs.values()))
        await wait_for(pilot, lambda: not job.running, timeout=120, what="the sync")
        assert job.status == "success", (job.error, job.hint)
        assert job.results[0].rows == 200  # sakila.actor

        await pilot.press("4")
        tree = app.screen.query_one("#file-tree", Tree)
        await wait_for(pilot, lambda: any(n.data.get("table") == table for n in tree.root.children), what="actor in the tree")
        node = next(n for n in tree.root.children if n.data.get("table") == table)
        tree.move_cursor(node)
        node.expand()
        await wait_for(pilot, lambda: "node" in node.data, timeout=30, what="S3 listing")
        root = node.data["node"]
        assert root.count == 4 and root.unloaded == 0  # 200 rows / 50 per file, all loaded

        await pilot.press("c")
        await wait_text(pilot, "Will delete 4 file(s)")
        plan = app.screen.plan
        await pilot.click("#delete")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "FilesScreen", timeout=30, what="clean done")

    with Workspace(build_settings(services_env)) as ws:
        remaining = {i.key for i in ws.store.list(f"incremental/{table}/")}
        report = validate_table(ws, ws.table_ref(table))
    assert len(plan.keys) == 4 and not (set(plan.keys) & remaining)
    assert report["warehouse"]["rows"] == 200
