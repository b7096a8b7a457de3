"""The demo's live traffic toggle: `t` starts inserting and updating source rows, `t` stops it;
it is not offered outside the demo or in --readonly."""

from __future__ import annotations

import sqlite3

from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, wait_for
from tests.tui import workspace as wsdata

SIZE = (120, 36)


def delivery_rows(env) -> int:
    with sqlite3.connect(env["DB_SQLITE_PATH"]) as db:
        return db.execute(f'SELECT COUNT(*) FROM "{wsdata.DELIVERY.split(".")[-1]}"').fetchone()[0]


@pilot_test
async def test_t_toggles_live_traffic_in_the_demo(synced_env, monkeypatch):
    monkeypatch.setenv("S3RB_DEMO_TRAFFIC_SECONDS", "0.05")
    before = delivery_rows(synced_env)
    app = make_app(synced_env, demo=True, demo_env=synced_env)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: app.traffic is not None and app.traffic.ticks >= 2, what="two traffic ticks")
        traffic = app.traffic
        await pilot.press("t")
        await wait_for(pilot, lambda: app.traffic is None and not traffic.running, what="traffic stopped")
        ticks = traffic.ticks
    assert traffic.inserted > 0 and traffic.last_error is None
    assert delivery_rows(synced_env) > before
    assert traffic.ticks == ticks  # nothing ran after it was stopped


@pilot_test
async def test_traffic_toggle_is_not_offered_outside_the_demo_or_read_only(synced_env):
    for kwargs in ({}, {"demo": True, "demo_env": synced_env, "readonly": True}):
        app = make_app(synced_env, **kwargs)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("t")
            await pilot.pause()
            assert app.traffic is None
            assert app.check_action("toggle_traffic", ()) is False
