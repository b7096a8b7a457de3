"""Alerts from real headless runs (MariaDB Sakila, S3 endpoint) to real HTTP servers on loopback:
a failed run POSTs once, the next good run of that table POSTs a recovery, a webhook answering 500
or never answering leaves the run's exit code alone, and no secret is in any body."""

from __future__ import annotations

import json
import time

from tests.support.webhook import Receiver, Silent

PASSWORD = "Pa55-word-in-no-alert"
SECRET_KEY = "s3rb-Secret/Key+in-no-alert"


def test_a_failed_run_alerts_once_and_the_recovery_once(run_cli, make_env, sakila_shared):
    table = f"{sakila_shared}.actor"
    with Receiver(200) as hook:
        env = make_env(ALERT_WEBHOOK_URL=hook.url, S3_SECRET_KEY=SECRET_KEY)
        failed = run_cli("--run", "backup", "-t", table, env={**env, "DB_PASSWORD": PASSWORD})
        assert failed.returncode == 1
        assert [b["event"] for b in hook.bodies] == ["failed"]
        body = hook.bodies[0]
        assert body["text"].startswith("s3rb-tui backup on cron@") and f"failed: {table} — {table}: cannot connect to MySQL" in body["text"]
        assert body["run"]["status"] == "failed" and body["run"]["tables"][0]["table"] == table
        ok = run_cli("--run", "backup", "-t", table, env=env)
        assert ok.returncode == 0, ok.stderr
        assert [b["event"] for b in hook.bodies] == ["failed", "recovered"]
        assert hook.bodies[1]["recovered_tables"] == [table]
        assert run_cli("--run", "backup", "-t", table, env=env).returncode == 0
        assert len(hook.bodies) == 2, "a success after a success is not news with ALERT_ON=failure"
    raw = json.dumps(hook.bodies)
    assert PASSWORD not in raw and SECRET_KEY not in raw


def test_a_webhook_answering_500_never_changes_the_exit_code(run_cli, make_env, sakila_shared):
    with Receiver(500) as hook:
        env = make_env(ALERT_WEBHOOK_URL=hook.url, ALERT_ON="always")
        ok = run_cli("--run", "backup", "-t", f"{sakila_shared}.actor", env=env)
    assert ok.returncode == 0 and hook.requests == 3
    assert "alert not delivered; the run's result stands" in ok.stderr and "HTTP 500" in ok.stderr


def test_a_webhook_that_never_answers_is_given_up_and_the_run_ends(run_cli, make_env, sakila_shared):
    with Silent() as hook:
        env = make_env(ALERT_WEBHOOK_URL=hook.url, ALERT_ON="always")
        started = time.monotonic()
        ok = run_cli("--run", "backup", "-t", f"{sakila_shared}.actor", env=env, timeout=120)
        elapsed = time.monotonic() - started
    assert ok.returncode == 0
    warning = next(json.loads(line) for line in ok.stderr.splitlines() if "alert not delivered" in line)
    assert warning["attempts"] == 3 and warning["level"] == "warning"
    assert 15 <= warning["seconds"] < 25, warning  # 3 x 5 s timeouts + backoff: bounded, not open-ended
    assert elapsed < 90
