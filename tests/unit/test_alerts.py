"""Alert delivery against real HTTP servers on loopback (200, 500, one that never answers), and the
bodies a run calls for (failed, recovered, always)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from s3rb_tui.engine.history import alerts, records
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.logs import Redactor
from tests.support.webhook import Receiver, Silent


def _doc(job_id, status, tables, started=None, error="Access denied for user 'etl'"):
    started = started or records.utcnow()
    return {"run_id": records.new_run_id(job_id, started), "command": "sync", "trigger": "cli", "interactive": False,
            "host": "etl-2", "started_at": records.iso(started), "finished_at": records.iso(started + dt.timedelta(seconds=3)),
            "status": status, "tables": [{"table": t, "status": s, "rows_loaded": 5, "error": error if s == "failed" else None}
                                         for t, s in tables.items()]}


def _warnings(log: list):
    return lambda event, level="info", **f: log.append((event, level, f))


def test_a_200_is_one_attempt():
    with Receiver(200) as hook:
        d = alerts.deliver(hook.url, {"text": "hello", "run": {}})
    assert d.ok and d.attempts == 1 and d.status == 200 and hook.bodies == [{"text": "hello", "run": {}}]


def test_a_500_is_tried_three_times_then_a_warning():
    log: list = []
    with Receiver(500) as hook:
        d = alerts.deliver(hook.url, {"text": "x"}, log=_warnings(log), backoff=0.05)
    assert not d.ok and d.attempts == 3 and hook.requests == 3 and "HTTP 500" in (d.error or "")
    assert [(e, lvl) for e, lvl, _ in log] == [("alert not delivered; the run's result stands", "warning")]


def test_a_server_that_never_answers_is_given_up_after_three_timeouts():
    log: list = []
    with Silent() as hook:
        d = alerts.deliver(hook.url, {"text": "x"}, log=_warnings(log), timeout=0.3, backoff=0.05)
    assert not d.ok and d.attempts == 3 and log[0][1] == "warning"
    assert d.seconds < 3 * 0.3 + 0.2 + 2.0  # three timeouts and two short waits, never an open-ended wait


def test_the_defaults_are_five_seconds_and_two_retries():
    assert alerts.TIMEOUT_SECONDS == 5.0 and alerts.ATTEMPTS == 3


def test_a_failed_run_names_its_tables_and_first_error():
    doc = _doc("f1", "failed", {"db.a": "success", "db.b": "failed"})
    (body,) = alerts.alerts_for(doc, {}, "failure")
    assert body["event"] == "failed" and body["run"] is doc
    assert body["text"] == "s3rb-tui sync on cron@etl-2 failed: db.b — db.b: Access denied for user 'etl'"
    assert "\n" not in body["text"]


def test_a_table_that_failed_last_time_and_succeeds_now_is_recovered(tmp_path: Path):
    store = LocalStore(tmp_path / "store")
    now = records.utcnow()
    for d in (_doc("old", "failed", {"db.a": "failed", "db.b": "success"}, now - dt.timedelta(hours=2)),
              _doc("mid", "success", {"db.c": "success"}, now - dt.timedelta(hours=1))):
        records.write_doc(store, d, json.dumps(d), None)
    doc = _doc("new", "success", {"db.a": "success", "db.b": "success"}, now)
    previous = alerts.previous_outcomes(store, ["db.a", "db.b"], doc["run_id"])
    assert previous == {"db.a": "failed", "db.b": "ok"}
    (body,) = alerts.alerts_for(doc, previous, "failure")
    assert body["event"] == "recovered" and body["recovered_tables"] == ["db.a"]
    assert "db.a recovered" in body["text"]
    assert alerts.alerts_for(doc, {"db.a": "ok"}, "failure") == []
    (always,) = alerts.alerts_for(doc, {"db.a": "ok"}, "always")
    assert always["event"] == "success" and "2 table(s), 10 rows" in always["text"]


def test_no_secret_leaves_in_an_alert():
    secret = "hunter2-Pa55"
    with Receiver(200) as hook:
        alerts.deliver(hook.url, {"text": f"login with {secret} refused", "run": {"error": secret}}, redact=Redactor([secret]))
    assert secret not in json.dumps(hook.bodies) and "****" in hook.bodies[0]["text"]
