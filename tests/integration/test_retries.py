"""A backup run under S3 throttling: ``503 SlowDown`` answers injected with botocore's own
``before-send`` hook on the store's client (the request never reaches the server; nothing patched)."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse

from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb

pytestmark = pytest.mark.integration

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message><RequestId>t</RequestId></Error>")


class _Body:
    def stream(self, **_):
        yield SLOW_DOWN


def throttle_data_uploads(ws: Workspace, times: int) -> list[str]:
    """Answer the first ``times`` uploads of data files (not locks or watermarks) with 503 SlowDown."""
    seen: list[str] = []

    def handler(request, **_):
        if "/incremental/" not in request.url:
            return None
        seen.append(request.url)
        if len(seen) <= times:
            return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Body())
        return None

    ws.store.client.meta.events.register("before-send.s3.PutObject", handler)
    return seen


def add_rows(server: dict, db: str, ids: range) -> None:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, f"2024-03-01 00:{i // 60 % 60:02d}:{i % 60:02d}") for i in ids])


def test_slow_down_is_retried_and_the_run_succeeds(make_env, mysql_server, mysql_db):
    add_rows(mysql_server, mysql_db, range(1, 201))
    ws = Workspace(build_settings(make_env(BACKUP_RETRY_ATTEMPTS=3)))
    try:
        seen = throttle_data_uploads(ws, times=2)
        [r] = run_backup(ws, [ws.table_ref("items")], JobContext("backup"), batch_size=100)
        assert r.status == "success", r.error
        assert r.rows == 200 and r.files == 2
        assert len(seen) == 2 + 2  # two throttled attempts, then each of the two files went through
        assert ws.watermarks.get(ws.table_ref("items")).cumulative.extracted == 200
    finally:
        ws.close()


def test_slow_down_beyond_the_budget_fails_the_table_and_leaves_the_watermark(make_env, mysql_server, mysql_db):
    add_rows(mysql_server, mysql_db, range(1, 101))
    env = make_env(BACKUP_RETRY_ATTEMPTS=1)
    ws = Workspace(build_settings(env))
    table = ws.table_ref("items")
    try:
        [first] = run_backup(ws, [table], JobContext("backup"), batch_size=100)
        assert first.status == "success", first.error
        before = ws.watermarks.get(table)
        files_before = {o.key for o in ws.store.list(ws.incremental_path)}
    finally:
        ws.close()

    add_rows(mysql_server, mysql_db, range(101, 151))
    ws = Workspace(build_settings(env))
    try:
        seen = throttle_data_uploads(ws, times=1000)
        [failed] = run_backup(ws, [table], JobContext("backup"), batch_size=100)
        assert failed.status == "failed"
        assert "SlowDown" in failed.error
        assert len(seen) == 2  # BACKUP_RETRY_ATTEMPTS=1: one try plus one retry
        after = ws.watermarks.get(table)
        assert (after.last_data_timestamp, after.last_key, after.committed_through, after.cumulative) == (
            before.last_data_timestamp, before.last_key, before.committed_through, before.cumulative)
        assert {o.key for o in ws.store.list(ws.incremental_path)} == files_before
    finally:
        ws.close()
