"""The dashboard says what it could not read: with the S3 endpoint down, the store check fails and
the table rows it had are marked stale with the time they were read (bug 7: it kept saying
"store ok" over two refreshes, only a toast said it could not read). Real S3 (moto's server on
loopback), stopped mid-test."""

from __future__ import annotations

import uuid

import pytest

from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import s3
from tests.support.availability import unavailable
from tests.tui import workspace as wsdata
from tests.tui.helpers import make_app
from tests.tui.helpers import pilot_test, screen_text, wait_for, wait_text

pytestmark = pytest.mark.integration
SIZE = (120, 36)


@pytest.fixture
def s3_that_goes_down():
    """An S3 endpoint of this test's own, so the test can stop it (the shared one serves others)."""
    try:
        server = s3.MotoS3()
        server.start()
    except Exception as exc:  # reported like every missing service (fails under CI=true)
        unavailable(f"moto S3 server: {exc}")
    state = {"server": server, "running": True}
    yield state
    if state["running"]:
        server.stop()


def line_of(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(start))


@pilot_test
async def test_store_down_is_a_failed_check_and_the_rows_are_marked_stale(tmp_path, s3_that_goes_down):
    server = s3_that_goes_down["server"]
    bucket = f"dash-{uuid.uuid4().hex[:12]}"
    s3.client(server.url).create_bucket(Bucket=bucket)
    env = wsdata.build(tmp_path / "ws", rows=3000, state="source")
    env.pop("STORE_URL", None)
    env.update(S3_ENDPOINT_URL=server.url, S3_BUCKET_NAME=bucket, S3_ACCESS_KEY=s3.FAKE_ACCESS_KEY,
               S3_SECRET_KEY=s3.FAKE_SECRET_KEY, S3_REGION=s3.REGION, BACKUP_RETRY_ATTEMPTS="1")
    with Workspace(build_settings(env)) as ws:
        results = run_backup(ws, [ws.table_ref(wsdata.CLAIMS), ws.table_ref(wsdata.PARTNERS)], JobContext("fixture"))
        assert all(r.ok for r in results), results
    app = make_app(env, clock=wsdata.frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        text = await wait_text(pilot, "settlement_claim_detail", timeout=60)
        assert " ok " in line_of(text, "store") and "(stale)" not in text
        server.stop()
        s3_that_goes_down["running"] = False
        for _ in range(2):  # the issue saw "store ok" over two refreshes
            await wait_for(pilot, lambda: not app.screen._polling, timeout=120, what="the poll")
            await pilot.press("r")
            await wait_for(pilot, lambda: "FAIL" in line_of(screen_text(app), "store"), timeout=120, what="the store check failing")
        text = screen_text(app)
        assert " ok " not in line_of(text, "store")
        assert "stale: table rows as of 2025-03-01 07:30:00 UTC" in text  # when they were read (the frozen clock)
        for name in ("settlement_claim_detail", "partner_info"):
            assert "(stale)" in line_of(text, name), line_of(text, name)
