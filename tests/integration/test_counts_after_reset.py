"""validate-counts and sync --verify-data after the README's workflow (issue 13, bug 2): sync, change
6 rows, sync, `watermark reset --force`, sync — the counts agree, the ledger's older rows are
labelled expected, and a suggested set-count is only ever one that writes right counts. Real
MariaDB (Sakila), a real S3 endpoint, PostgreSQL as the warehouse, the CLI in subprocesses."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace

from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Counts
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import load_settings
from tests.support import mariadb


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    return proc


def test_counts_agree_after_a_reset_and_verify_data_stays_green(run_cli, make_env, sakila_db, pg_db, mysql_server):
    env = make_env()
    _ok(run_cli("--run", "sync", "-t", "actor", env=env))
    with mariadb.connect(mysql_server, sakila_db) as conn, conn.cursor() as cur:
        cur.execute("UPDATE actor SET last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id <= 6")
    _ok(run_cli("--run", "sync", "-t", "actor", env=env))
    _ok(run_cli("--run", "watermark", "reset", "-t", "actor", "--force", env=env))
    _ok(run_cli("--run", "sync", "-t", "actor", env=env))

    check = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", "--json", env=env)
    assert check.returncode == 0, check.stdout  # was: UNEXPECTED loaded 200 vs the ledger's 406, exit 1
    [report] = json.loads(check.stdout)["tables"]
    assert report["unexpected"] == []
    assert (report["watermark"]["loaded"], report["ledger"]["rows"], report["warehouse"]["rows"]) == (200, 406, 200)
    assert any("206 rows the load ledger recorded before the watermark reset" in e for e in report["expected"])

    verified = run_cli("--run", "sync", "-t", "actor", "--verify-data", env=env)
    assert verified.returncode == 0, verified.stdout
    wm = json.loads(_ok(run_cli("--run", "watermark", "get", "-t", "actor", "--json", env=env)).stdout)
    assert wm["redshift_status"] == "success"


def _drift(env, table: TableRef, extracted: int, loaded: int) -> None:
    """What a lost count looks like: the watermark's cumulative counts off (the ledger is right)."""
    ws = Workspace(load_settings(environ=env))
    wm, etag = ws.watermarks.read(table)
    ws.watermarks.write(replace(wm, cumulative=Counts(extracted=extracted, loaded=loaded)), etag)


def _suggested(stdout: str) -> list[str] | None:
    fix = re.search(r"`(watermark-count set-count [^`]+)`", stdout)
    return shlex.split(fix.group(1)) if fix else None


def test_a_suggested_set_count_writes_right_counts_and_none_is_suggested_when_it_would_not(run_cli, make_env, sakila_db, pg_db, mysql_server):
    env = make_env()
    table = TableRef(sakila_db, "actor")
    _ok(run_cli("--run", "sync", "-t", "actor", env=env))

    _drift(env, table, extracted=300, loaded=150)  # both off; every file loaded: 200 is right for both
    check = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env)
    assert check.returncode == 1
    fix = _suggested(check.stdout)
    assert fix is not None and "200" in fix, check.stdout
    _ok(run_cli("--run", *fix, "--force", env=env))
    again = json.loads(run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", "--json", env=env).stdout)
    assert again["ok"] and (again["tables"][0]["watermark"]["extracted"], again["tables"][0]["watermark"]["loaded"]) == (200, 200)

    # 5 rows extracted but not loaded: a set-count to the ledger's 200 would make "extracted" wrong
    with mariadb.connect(mysql_server, sakila_db) as conn, conn.cursor() as cur:
        cur.execute("UPDATE actor SET last_update = NOW() - INTERVAL 1 SECOND WHERE actor_id <= 5")
    _ok(run_cli("--run", "sync", "-t", "actor", "--backup-only", env=env))
    _drift(env, table, extracted=205, loaded=150)
    check = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env)
    assert check.returncode == 1
    assert _suggested(check.stdout) is None, check.stdout
    assert "no set-count is suggested" in check.stdout and "5 extracted rows are not loaded yet" in check.stdout
    # the advice given: load, then validate again; now the suggested count is right for both
    _ok(run_cli("--run", "sync", "-t", "actor", "--redshift-only", env=env))
    check = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env)
    fix = _suggested(check.stdout)
    assert fix is not None and "205" in fix, check.stdout
    _ok(run_cli("--run", *fix, "--force", env=env))
    again = json.loads(run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", "--json", env=env).stdout)
    assert again["ok"] and (again["tables"][0]["watermark"]["extracted"], again["tables"][0]["watermark"]["loaded"]) == (205, 205)
