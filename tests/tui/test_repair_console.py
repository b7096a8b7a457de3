"""Repair from the console on the synced test workspace (the demo's SQLite source, a local store, a
DuckDB warehouse; no servers): R plans (a verify job), the guarded dialog shows the plan with focus
on Cancel, Confirm runs the repair as a job and a verify again; the ratio guard's refusal is one
line and only the typed table name gets past it. The warehouse is read back with duckdb."""

from __future__ import annotations

import sqlite3
from collections import Counter

import duckdb
from textual.widgets import Button, Input

from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.ops.repair import RepairPlan
from s3rb_tui.engine.ops.verify import TableVerdict
from s3rb_tui.tui.screens.dialogs import ConfirmDialog
from s3rb_tui.tui.screens.repair_dialog import repair_dialog
from s3rb_tui.tui.widgets.list_table import ListTable
from tests.tui import tour
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app, pilot_test, screen_text, wait_for

TABLE = wsdata.CLAIMS
NAME = TABLE.split(".", 1)[1]


def _warehouse(env: dict[str, str], sql: str) -> list[tuple]:
    con = duckdb.connect(env["DUCKDB_PATH"])
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _delete_at_source(env: dict[str, str], ids: list[int]) -> None:
    with sqlite3.connect(env["DB_SQLITE_PATH"]) as db:
        db.executemany(f'DELETE FROM "{NAME}" WHERE "ID" = ?', [(i,) for i in ids])


async def _plan_dialog(pilot) -> ConfirmDialog:
    app = pilot.app
    await pilot.press("2")
    grid = app.screen.query_one("#source-tables", ListTable)
    await wait_for(pilot, lambda: TABLE in grid.shown_keys, what="the table listed")
    grid.focus()
    grid.select(TABLE)
    await pilot.press("R")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), timeout=60, what="the plan dialog")
    plan_job = next(j for j in app.jobs.values() if j.name == "repair plan")
    assert plan_job.status == "success" and plan_job.table(TABLE).files > 0, "the plan's verify reports its segments"
    return app.screen


@pilot_test
async def test_repair_from_tables_shows_the_plan_then_repairs_and_verifies_equal(synced_env):
    _delete_at_source(synced_env, [5])
    _warehouse(synced_env, f"UPDATE public.{NAME} SET claim_status = 'WRONG' WHERE \"ID\" = 9")
    app = make_app(synced_env)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await _plan_dialog(pilot)
        assert "Re-extract 1 key(s) from the source: 9" in screen_text(app)
        text = dialog.body  # as drawn, wrapped to the dialog
        assert "Re-extract 1 key(s) from the source: 9" in text and "Delete 1 warehouse row(s): 5" in text, text
        assert "Ratio guard: allowed — deletes 1 of 300 warehouse rows (0.33%)" in text
        assert dialog.query_one("#cancel", Button).has_focus and dialog.type_to_confirm is None
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: any(j.name == "repair" for j in app.jobs.values()), what="the repair job")
        job = next(j for j in app.jobs.values() if j.name == "repair")
        await wait_for(pilot, lambda: not job.running, timeout=60, what="the repair to end")
        assert job.status == "success", (job.error, job.hint)
        assert job.results[0].details["reverify"]["equal"]
        lines = [ln.text for ln in app.log_buffer.after(0)]
        assert any(ln.startswith(f"after the repair: {TABLE}: equal") for ln in lines), lines
    with sqlite3.connect(synced_env["DB_SQLITE_PATH"]) as db:
        status = db.execute(f'SELECT claim_status FROM "{NAME}" WHERE "ID" = 9').fetchone()[0]
    assert _warehouse(synced_env, f'SELECT claim_status FROM public.{NAME} WHERE "ID" = 9') == [(status,)]
    assert _warehouse(synced_env, f'SELECT COUNT(*) FROM public.{NAME} WHERE "ID" = 5') == [(0,)]


@pilot_test
async def test_the_ratio_guard_refuses_in_one_line_and_only_the_typed_name_gets_past_it(synced_env):
    _delete_at_source(synced_env, [11, 12, 13, 14])  # 1.33% of 300, past max_delete_ratio 0.01
    app = make_app(synced_env)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await _plan_dialog(pilot)
        assert "Ratio guard: REFUSED — deletes 4 of 300 warehouse rows (1.33%), more than max_delete_ratio 0.01" in dialog.body
        assert "Ratio guard: REFUSED" in screen_text(app) and dialog.type_to_confirm == TABLE
        confirm = dialog.query_one("#confirm", Button)
        assert dialog.query_one("#cancel", Button).has_focus and confirm.disabled
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog closed")
        assert not any(j.name == "repair" for j in app.jobs.values())
        assert _count_ids(synced_env, [11, 12, 13, 14]) == 4, "cancel changed nothing"
        dialog = await _plan_dialog(pilot)
        dialog.query_one("#confirm-text", Input).value = TABLE
        await wait_for(pilot, lambda: not dialog.query_one("#confirm", Button).disabled, what="confirm enabled by the typed name")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: any(j.name == "repair" and not j.running for j in app.jobs.values()), timeout=60, what="the repair")
        job = next(j for j in app.jobs.values() if j.name == "repair")
        assert job.status == "success", (job.error, job.hint)
    assert _count_ids(synced_env, [11, 12, 13, 14]) == 0


def _count_ids(env: dict[str, str], ids: list[int]) -> int:
    return _warehouse(env, f'SELECT COUNT(*) FROM public.{NAME} WHERE "ID" IN ({", ".join(map(str, ids))})')[0][0]


def _fixed_plan() -> RepairPlan:
    verdict = TableVerdict(TABLE, f"public.{NAME}", "merge", ["ID", "claim_status"], source_rows=299, warehouse_rows=300,
                           missing_in_warehouse=[[7]], extra_in_warehouse=[[9]], different=[[12], [14]],
                           counts={"missing_in_warehouse": 1, "extra_in_warehouse": 1, "different": 2},
                           different_columns=Counter({"claim_status": 2}))
    return RepairPlan(TableRef.parse(TABLE), verdict, [[7], [12], [14]], [[9]])


def test_plan_dialog_snapshot(snap_compare, snapshot_env):
    async def show(pilot) -> None:
        await tour.tables(pilot)
        pilot.app.push_screen(repair_dialog(_fixed_plan(), 0.01)[0])
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the dialog")
        await pilot.pause()

    assert snap_compare(make_app(snapshot_env, clock=wsdata.frozen_clock, stable=True), terminal_size=(120, 36), run_before=show)


def test_repair_is_a_palette_command_on_tables_watermarks_and_jobs_and_hidden_when_read_only(synced_env):
    from s3rb_tui.tui.palette import console_actions

    titles = {a.title for a in console_actions(make_app(synced_env))}
    assert {"Tables: Repair rows…", "Watermarks: Repair rows…", "Jobs: Repair rows…"} <= titles
    assert not any("Repair" in t for t in (a.title for a in console_actions(make_app(synced_env, readonly=True))))


def test_the_table_name_is_typed_above_100_changes_within_the_guard():
    def plan(changes: int) -> RepairPlan:
        keys = [[i] for i in range(changes)]
        verdict = TableVerdict(TABLE, f"public.{NAME}", "merge", ["ID"], source_rows=100_000, warehouse_rows=100_000,
                               different=keys, counts={"missing_in_warehouse": 0, "extra_in_warehouse": 0, "different": changes})
        return RepairPlan(TableRef.parse(TABLE), verdict, keys, [])

    assert repair_dialog(plan(100), 0.01)[0].type_to_confirm is None
    dialog, overrides = repair_dialog(plan(101), 0.01)
    assert dialog.type_to_confirm == TABLE and not overrides and "… and 96 more" in dialog.body
