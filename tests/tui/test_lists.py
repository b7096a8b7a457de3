"""Every list of the console: / filters it, keys typed fast (or pasted) right after / go into the
filter and never reach the screen's actions, o and a header click sort it, and the selection is a
table's name, not a row position (a dialog closing keeps it; Watermarks opens on the table picked
on Tables)."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input, Tree

from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

SIZE = (120, 36)

#: screen key -> (mode, text that would hit the screen's action keys if it reached them)
SCREENS = {
    "1": ("dashboard", "sb"),  # s: sync, b: backup
    "2": ("tables", "sto"),  # s: sync (the "/ s t o")
    "3": ("watermarks", "mnv"),  # m: wizard, n: set count, v: validate
    "4": ("files", "crc"),  # c: clean dialog
    "5": ("jobs", "xl"),  # x: cancel, l: log only
    "6": ("config", "settle"),
}


def filter_input(app) -> Input | None:
    return next((w for w in app.screen.query(Input) if w.id in ("list-filter", "table-filter")), None)


def filter_text(app) -> str | None:
    bar = filter_input(app)
    return None if bar is None else bar.value


def something_started(app, mode: str) -> bool:
    """A job, a dialog or another screen: what a key reaching the screen's actions does."""
    return bool(app.jobs) or len(app.screen_stack) > 1 or app.current_mode != mode


async def _open(pilot, key: str) -> None:
    app = pilot.app
    mode = SCREENS[key][0]
    await pilot.press(key)
    await wait_for(pilot, lambda: app.current_mode == mode and app.screen.is_mounted, what=mode)
    if mode in ("dashboard", "tables", "watermarks", "config"):
        await wait_text(pilot, "settlement_claim_detail" if mode != "config" else "DB_DATABASE")
    if mode == "files":
        await wait_text(pilot, "settlement.settlement_claim_detail")


def type_fast(app, text: str) -> None:
    """Post ``/`` and ``text`` as key events at once, as a fast typist or a terminal without
    bracketed paste delivers them: none is handled before the next arrives."""
    app.post_message(events.Key("slash", "/"))
    for ch in text:
        app.post_message(events.Key(ch, ch))


@pytest.mark.parametrize("key", list(SCREENS))
@pilot_test
async def test_keys_typed_fast_after_slash_go_into_the_filter(synced_env, key):
    mode, text = SCREENS[key]
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, key)
        type_fast(app, text)
        await wait_for(pilot, lambda: filter_text(app) == text or something_started(app, mode), what=f"{text!r} in the filter")
        await pilot.pause()
        assert not app.jobs, [j.title for j in app.jobs.values()]  # no sync, no backup, no load
        assert len(app.screen_stack) == 1 and app.current_mode == mode  # no dialog, no screen switch
        assert filter_text(app) == text


@pytest.mark.parametrize("key", ["1", "2", "3", "4"])
@pilot_test
async def test_a_paste_right_after_slash_goes_into_the_filter(synced_env, key):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, key)
        app.post_message(events.Key("slash", "/"))
        app.post_message(events.Paste("claim"))  # a bracketed paste, read right after the /
        await wait_for(pilot, lambda: filter_text(app) == "claim", what="the pasted text in the filter")
        await pilot.pause()
        assert not app.jobs and len(app.screen_stack) == 1


@pilot_test
async def test_film_typed_fast_on_tables_starts_no_load(synced_env):
    """The issue's second case: ``/ f i l m`` started "load only" (l)."""
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "2")
        type_fast(app, "film")
        await wait_for(pilot, lambda: filter_text(app) == "film" or something_started(app, "tables"), what="film in the filter")
        assert not app.jobs, [j.title for j in app.jobs.values()]
        await wait_text(pilot, "no tables match")


#: screen key -> (list widget id, filter text, the keys left)
FILTERS = {
    "1": ("tables", "claim", [wsdata.CLAIMS]),
    "2": ("source-tables", "partner", [wsdata.PARTNERS]),
    "3": ("wm-tables", "delivery", [wsdata.DELIVERY]),
    "6": ("config-table", "redshift_ssh", ["REDSHIFT_SSH_BASTION_HOST", "REDSHIFT_SSH_BASTION_PORT", "REDSHIFT_SSH_BASTION_USER", "REDSHIFT_SSH_BASTION_KEY_PATH"]),
}


@pytest.mark.parametrize("key", list(FILTERS))
@pilot_test
async def test_slash_filters_the_list_and_escape_clears_it(synced_env, key):
    list_id, text, expected = FILTERS[key]
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, key)
        table = app.screen.query_one(f"#{list_id}")
        everything = list(table.shown_keys)
        await pilot.press("slash", *text)
        await wait_for(pilot, lambda: table.shown_keys == expected, what=f"only {expected}")
        await pilot.press("enter")  # back to the list, the filter kept
        await wait_for(pilot, lambda: table.has_focus, what="focus on the list")
        assert table.shown_keys == expected and table.selected_key == expected[0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.shown_keys == everything, what="filter cleared")


@pilot_test
async def test_files_filter_keeps_the_matching_tables(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "4")
        tree = app.screen.query_one("#file-tree", Tree)
        await pilot.press("slash", *"delivery")
        await wait_for(pilot, lambda: [n.data.get("table") for n in tree.root.children if n.data] == [wsdata.DELIVERY], what="one table left")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(tree.root.children) == 3, what="every table back")


@pilot_test
async def test_jobs_filter(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "5")
        for table in (wsdata.CLAIMS, wsdata.PARTNERS):
            app.run_backup([table], dry_run=True)
        await wait_for(pilot, lambda: len(app.jobs) == 2 and not app.running_jobs(), timeout=60, what="two dry runs")
        await pilot.press("5")
        jobs = app.screen.query_one("#job-list")
        await wait_for(pilot, lambda: len(jobs.shown_keys) == 2, what="both listed")
        await pilot.press("slash", *"partner")
        await wait_for(pilot, lambda: len(jobs.shown_keys) == 1, what="one job left")
        assert "partner_info" in app.jobs[jobs.shown_keys[0]].title


def _header_x(table, column: int) -> int:
    """The x offset of a column's header (cells are padded by cell_padding on both sides)."""
    x = 0
    for col in list(table.columns.values())[:column]:
        x += col.get_render_width(table)
    return x + 2


@pilot_test
async def test_dashboard_sorts_by_key_and_by_header_click(synced_env):
    app = make_app(synced_env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "1")
        table = app.screen.query_one("#tables")
        await pilot.press("o")  # the first column: Table, ascending
        await wait_text(pilot, "Table ▲")
        assert table.shown_keys == sorted(table.shown_keys, key=str.lower)
        await pilot.press("o")  # the next column: Lag
        await wait_text(pilot, "Lag ▲")
        # lag: claims 2h35m, partners 3h30m, deliveries 1d10h
        assert table.shown_keys == [wsdata.CLAIMS, wsdata.PARTNERS, wsdata.DELIVERY]
        to_load = [c.key.value for c in table.columns.values()].index("to_load")
        await pilot.click("#tables", offset=(_header_x(table, to_load), 0))
        await wait_text(pilot, "To load ▲")
        await pilot.click("#tables", offset=(_header_x(table, to_load), 0))  # again: descending
        await wait_text(pilot, "To load ▼")
        assert table.shown_keys[0] == wsdata.DELIVERY  # 3,000 rows waiting, the others 0


@pilot_test
async def test_config_sorts_by_header_click(synced_env):
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _open(pilot, "6")
        table = app.screen.query_one("#config-table")
        await pilot.click("#config-table", offset=(_header_x(table, 0), 0))
        await wait_text(pilot, "Variable ▲")
        assert table.shown_keys == sorted(table.shown_keys, key=str.lower)


# --- the selection follows the table ------------------------------------------------------------
async def _watermarks_on(pilot, table: str) -> None:
    app = pilot.app
    await pilot.press("3")
    await wait_text(pilot, "Watermark Status for")
    names = [name for name, _ in app.screen._rows]
    for _ in range(names.index(table)):
        await pilot.press("down")
    await wait_text(pilot, f"Watermark Status for {table}")


@pilot_test
async def test_watermarks_keeps_the_table_after_set_count_apply(synced_env):
    table = wsdata.CLAIMS  # the second row: the first is partner_info
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermarks_on(pilot, table)
        await pilot.press("n")
        await wait_text(pilot, f"Set count — {table}")
        await pilot.press(*"5")
        await wait_for(pilot, lambda: not app.screen.query_one("#apply").disabled, what="Apply enabled")
        await pilot.click("#apply")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="dialog closed")
        await wait_text(pilot, "5 rows")  # the refreshed watermark of the same table
        await pilot.press("m")
        await wait_text(pilot, "1/4  What do you want to do?")
        assert app.screen.table == table
    with Workspace(build_settings(synced_env)) as ws:
        assert ws.watermarks.get(ws.table_ref(table)).cumulative.extracted == 5


@pilot_test
async def test_a_dashboard_refresh_in_the_background_keeps_the_watermarks_selection(synced_env, monkeypatch):
    """The issue's jump: the dashboard refreshes every 15 s; its re-render, while the operator was
    on Watermarks, moved the console's selection to its own first row, and the next m opened the
    wizard for another table."""
    from s3rb_tui.tui import read_models

    polls = []
    read = read_models.read_dashboard

    def counted(ws):
        data = read(ws)
        polls.append(1)
        return data

    monkeypatch.setattr(read_models, "read_dashboard", counted)
    table = wsdata.CLAIMS
    app = make_app(synced_env, refresh_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _watermarks_on(pilot, table)
        seen = len(polls)
        # two more polls: the first one's rows were rendered before the second could start
        await wait_for(pilot, lambda: len(polls) >= seen + 2, what="the dashboard to refresh in the background")
        await pilot.press("m")  # the m Esc m
        await wait_text(pilot, "1/4  What do you want to do?")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
        await wait_for(pilot, lambda: "Watermark Status for" in screen_text(app), what="the refreshed view")
        await pilot.press("m")
        await wait_text(pilot, "1/4  What do you want to do?")
        assert app.screen.table == table


@pilot_test
async def test_watermarks_keeps_the_table_after_the_wizard_closes_twice(synced_env):
    table = wsdata.DELIVERY
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await _watermarks_on(pilot, table)
        for _ in range(3):
            await pilot.press("m")
            await wait_text(pilot, "1/4  What do you want to do?")
            assert app.screen.table == table
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
        assert f"Watermark Status for {table}" in screen_text(app)


@pilot_test
async def test_watermarks_opens_on_the_table_selected_on_tables(synced_env):
    """Also a table without a watermark yet: Watermarks lists it, says so, and m sets its watermark."""
    import sqlite3

    with sqlite3.connect(synced_env["DB_SQLITE_PATH"]) as db:
        db.execute("CREATE TABLE returns_detail (id INTEGER PRIMARY KEY, update_at TEXT)")
    fresh = f"{wsdata.SCHEMA}.returns_detail"
    app = make_app(synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_text(pilot, " — incremental")
        for _ in range(6):  # the operator moves down to the new table
            if f"{fresh} — " in screen_text(app):
                break
            await pilot.press("down")
            await wait_for(pilot, lambda: "reading columns" not in screen_text(app), what="columns read")
        await wait_text(pilot, f"{fresh} — ")
        await pilot.press("3")
        await wait_text(pilot, f"{fresh}: no watermark yet")
        await pilot.press("m")
        await wait_text(pilot, "1/4  What do you want to do?")
        assert app.screen.table == fresh
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WatermarksScreen", what="wizard closed")
        await pilot.press("1", "3")  # away and back: still the same table
        await wait_text(pilot, f"{fresh}: no watermark yet")
