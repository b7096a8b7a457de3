"""The console against the real services: MariaDB (Sakila), the S3 endpoint and PostgreSQL as the
warehouse. Health, a view marked in Tables, a sync started from the console, its files marked as
loaded, and a guarded clean that removes exactly the planned S3 keys."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Tree

from s3rb_tui.engine.ops.counts import validate_table
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui.helpers import make_app
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
        await wait_for(pilot, lambda: screen_text(app).count(" ok ") >= 3, what="the checks drawn")
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
    assert report.warehouse.rows == 200


@pytest.fixture
def reader(mysql_server, sakila_shared, mysql_db):
    """A MySQL user who may read exactly two schemas: Sakila and a small one made here."""
    import secrets

    from tests.support import mariadb

    user, password = f"s3rbt_r{secrets.token_hex(4)}", secrets.token_hex(12)
    with mariadb.connect(mysql_server, mysql_db) as db, db.cursor() as cur:
        cur.execute("CREATE TABLE returns_detail (id INT PRIMARY KEY, update_at DATETIME)")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'")
        for host in ("%", "localhost"):
            for schema in (sakila_shared, mysql_db):
                cur.execute(f"GRANT SELECT ON `{schema}`.* TO '{user}'@'{host}'")
    yield user, password
    with mariadb.connect(mysql_server) as db, db.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


@pilot_test
async def test_tables_lists_every_schema_the_user_may_read_grouped(make_env, sakila_shared, mysql_db, reader, tmp_path):
    user, password = reader
    env = make_env(DB_USER=user, DB_PASSWORD=password, S3RB_CONFIG=str(tmp_path / "none.toml"))
    app = make_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        grid = app.screen.query_one("#source-tables", ListTable)
        await wait_for(pilot, lambda: len(grid.shown_keys) > 16, timeout=60, what="both schemas' tables")
        assert grid.shown_groups == sorted([sakila_shared, mysql_db])  # those two, and no other schema
        assert f"{mysql_db}.returns_detail" in grid.shown_keys and f"{sakila_shared}.rental" in grid.shown_keys
        text = screen_text(app)
        assert f"▾ {sorted([sakila_shared, mysql_db])[0]}" in text
