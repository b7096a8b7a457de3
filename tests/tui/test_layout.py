"""Layout at the sizes operators use: at 80x24 the dashboard shows each table's name, lag, last run
and rows to load, and no screen's key bar is cut; at 120 columns nothing is cut (the table title,
"Warehouse type", "To load", Config's meanings, log lines wrap)."""

from __future__ import annotations

import pytest

from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, region_text, screen_text, wait_for, wait_text

SMALL = (80, 24)
WIDE = (120, 36)
MODES = {"1": "dashboard", "2": "tables", "3": "watermarks", "4": "files", "5": "jobs", "6": "config"}


def footer_line(app) -> str:
    return screen_text(app).splitlines()[-1]


def shown_keys(app) -> list[str]:
    """The label of every binding the key bar shows on the current screen."""
    out = []
    for _key, binding, enabled, _tooltip in app.screen.active_bindings.values():
        if binding.show and enabled and binding.description:
            out.append(f" {binding.description}")
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("key", list(MODES))
@pilot_test
async def test_no_key_bar_is_cut_at_80x24(synced_env, key):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press(key)
        await wait_for(pilot, lambda: app.current_mode == MODES[key] and app.screen.is_mounted, what=MODES[key])
        await wait_text(pilot, "Help")  # the key bar is filled in
        await pilot.pause()
        line = footer_line(app)
        assert line.rstrip().endswith("^p Commands"), line
        for label in shown_keys(app):
            assert label in line, (label, line)


@pilot_test
async def test_dashboard_at_80x24_shows_name_lag_last_run_and_rows_to_load(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SMALL) as pilot:
        await wait_text(pilot, "settlement_normal_delivery_detail")
        text = await wait_text(pilot, "3,000 (3 f)")
        rows = {line.split()[0]: line for line in text.splitlines() if line.strip().startswith(("partner_info", "settlement_"))}
        # lag against the frozen clock (07:30): last data 04:00, 04:55 and two days before
        expected = {"partner_info": ("3h30m", "0"), "settlement_claim_detail": ("2h35m", "0"), "settlement_normal_delivery_detail": ("1d10h", "3,000 (3 f)")}
        for name, (lag, to_load) in expected.items():
            words = rows[name].split()
            assert lag in words and to_load in rows[name], rows[name]
        assert "To load" in text and "Lag" in text and "Last run" in text
        # the last run's how and where (run records), wrapped in its column at 80
        assert "cron@etl-2" in rows["settlement_normal_delivery_detail"] and "console@ops" in rows["partner_info"]


@pilot_test
async def test_each_table_is_one_line_with_its_whole_last_run_at_120_columns(synced_env):
    """At 120 columns an operator sees one line per table: the Last run phrase is whole in it
    (it had 11 characters and folded every row onto three lines), Last data scrolls into view."""
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=WIDE) as pilot:
        text = await wait_text(pilot, "3,000 (3 f)")
        lines = text.splitlines()
        rows = {line.split()[0]: i for i, line in enumerate(lines) if line.strip().startswith(("partner_info", "settlement_"))}
        phrases = {"partner_info": "console@ops-1 06:10 success", "settlement_claim_detail": "console@ops-1 06:10 success",
                   "settlement_normal_delivery_detail": "cron@etl-2 07:00 failed"}
        for name, phrase in phrases.items():
            assert phrase in lines[rows[name]], lines[rows[name]]
        # consecutive lines: no row folds onto the next
        assert sorted(rows.values()) == list(range(min(rows.values()), min(rows.values()) + 3)), text
        assert "Total ext/ld" in text


@pilot_test
async def test_nothing_is_cut_at_120_columns(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=WIDE) as pilot:
        text = await wait_text(pilot, "3,000 (3 f)")
        assert "To load" in text and "Total ext/ld" in text, text
        await pilot.press("2")
        grid = app.screen.query_one("#source-tables")
        await wait_for(pilot, lambda: wsdata.DELIVERY in grid.shown_keys, what="tables")
        grid.select(wsdata.DELIVERY)
        text = await wait_text(pilot, f"{wsdata.DELIVERY} — incremental")
        assert "Warehouse type" in text
        title = region_text(app, app.screen.query_one("#table-title"))
        assert title.endswith("cursor update_at; key ID; warehouse duckdb"), title  # whole, wrapped if need be
        await pilot.press("6")
        config = app.screen.query_one("#config-table")
        await wait_for(pilot, lambda: "S3_HIGH_WATERMARK_KEY" in config.shown_keys, what="settings")
        config.select("S3_HIGH_WATERMARK_KEY")
        await pilot.pause()
        from s3rb_tui.settings import VARS_BY_NAME

        meaning = VARS_BY_NAME["S3_HIGH_WATERMARK_KEY"].help
        assert meaning in region_text(app, config)  # the whole meaning, wrapped in its column


@pilot_test
async def test_log_lines_wrap_at_120_columns(source_only_env):
    app = make_app(source_only_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: app.current_mode == "jobs" and app.screen.is_mounted, what="jobs")
        job = app.run_sync([wsdata.CLAIMS])
        await wait_for(pilot, lambda: not job.running, timeout=120, what="the sync")
        # the backup phase's summary line is longer than the screen; its last field must show
        await wait_text(pilot, "failed_tables=[]")



@pilot_test
async def test_a_long_host_in_last_run_is_cut_in_the_cell_and_whole_under_the_list(synced_env):
    import datetime as dt
    import json
    from pathlib import Path

    from s3rb_tui.engine.history.records import write_doc
    from s3rb_tui.engine.stores.local import LocalStore

    host = "etl-worker-prod-eu-west-1.internal.example.com"
    doc = wsdata._run_doc("0d0d0d0d0d04", wsdata.RUN_START + dt.timedelta(hours=1, minutes=5), 3.0, "sync", "cli", host, "failed",
                          [wsdata._table(wsdata.DELIVERY, "failed", 0, 0, error="timed out")])
    write_doc(LocalStore(Path(synced_env["STORE_URL"].removeprefix("file://"))), doc, json.dumps(doc), None)
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=WIDE) as pilot:
        text = await wait_text(pilot, "3,000 (3 f)")
        assert host.split(".")[0] not in text and "internal.example" not in text  # the cell has the cut host
        grid = app.screen.query_one("#tables")
        grid.focus()
        grid.select(wsdata.DELIVERY)
        await wait_text(pilot, host)  # the whole host, under the list
