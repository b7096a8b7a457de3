"""``status --max-lag DURATION`` (issue 15): exit 1 naming each table whose data is older than that."""

from __future__ import annotations

import json


def test_status_fails_on_a_table_whose_data_is_older_than_max_lag(run_cli, make_env, sakila_shared):
    env = make_env()
    table = f"{sakila_shared}.actor"  # Sakila's rows are from 2006
    assert run_cli("--run", "backup", "-t", table, env=env).returncode == 0
    late = run_cli("--run", "status", "-t", table, "--max-lag", "26h", env=env)
    assert late.returncode == 1, late.stdout
    assert f"FAILED {table}: its data is " in late.stdout and "more than --max-lag 26h" in late.stdout
    assert f"status: FAILED (lag of {table})" in late.stdout
    doc = json.loads(run_cli("--run", "status", "-t", table, "--max-lag", "26h", "--json", env=env).stdout)
    assert doc["ok"] is False and doc["lagging_tables"] == [table] and doc["max_lag_seconds"] == 26 * 3600
    fine = run_cli("--run", "status", "-t", table, "--max-lag", "99999w", env=env)
    assert fine.returncode == 0 and "status: OK" in fine.stdout, fine.stdout
    bad = run_cli("--run", "status", "-t", table, "--max-lag", "soon", env=env)
    assert bad.returncode == 2 and "invalid --max-lag value 'soon'" in bad.stderr
