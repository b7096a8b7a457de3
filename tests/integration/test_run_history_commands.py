"""Every run is recorded, not only backup and sync (issue 15): verify, repair, rebuild and s3clean
on real MariaDB, a DuckDB warehouse and the local-directory store each leave one record that
``history`` lists with its command, options and per-table outcome. A verify that finds
differences is a failed run whose table names the counts and the repair command, and its exit
codes stay 0 (equal) and 1 (different); a refused run and a dry run leave nothing; the metrics
file is a backup/sync thing only."""

from __future__ import annotations

import json

from tests.support.verify_stand import EDGE_DDL, EDGE_FILL, _setup


def _history(run_cli, env, *args) -> list:
    proc = run_cli("--run", "history", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_verify_repair_rebuild_and_s3clean_runs_are_recorded(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    metrics = tmp_path / "s3rb.prom"
    wh, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")
    env = {**env, "METRICS_FILE": str(metrics)}
    table = f"{mysql_db}.edge"
    assert [r["command"] for r in _history(run_cli, env)] == ["sync"]
    metrics.unlink(missing_ok=True)

    equal = run_cli("--run", "verify", "-t", "edge", "--keys-only", env=env)
    assert equal.returncode == 0, equal.stdout[-2000:] + equal.stderr[-2000:]
    wh.run("DELETE FROM public.edge WHERE id IN (20, 21)", "UPDATE public.edge SET t = 'wrong' WHERE id = 12")
    differs = run_cli("--run", "verify", "-t", "edge", env=env)
    assert differs.returncode == 1, differs.stdout[-2000:] + differs.stderr[-2000:]  # exit codes as before

    runs = _history(run_cli, env)
    assert [(r["command"], r["status"]) for r in runs[:2]] == [("verify", "failed"), ("verify", "success")]
    bad, good = runs[0], runs[1]
    assert good["options"] == {"tables": ["edge"], "keys_only": True, "limit": 1000} and good["trigger"] == "cli"
    assert good["tables"][0]["table"] == table and good["tables"][0]["rows_checked"] > 0
    entry = bad["tables"][0]
    assert entry["status"] == "failed" and entry["differences"] == {"missing_in_warehouse": 2, "extra_in_warehouse": 0, "different": 1}
    assert entry["error"] == "2 missing, 0 extra, 1 different in the warehouse" and "--run repair -t" in entry["hint"]
    assert set(entry["seconds"]) == {"verify"} and entry["rows_extracted"] is None and entry["rows_loaded"] is None
    assert [r["run_id"] for r in _history(run_cli, env, "--failed")] == [bad["run_id"]]
    shown = run_cli("--run", "history", bad["run_id"], env=env)
    assert f"differences {table}: 2 missing, 0 extra, 1 different" in shown.stdout and "hint: s3rb-tui --run repair" in shown.stdout
    assert not metrics.exists()  # METRICS_FILE is for backup and sync, the commands that take --metrics-file

    refused = run_cli("--run", "repair", "-t", "edge", env=env)  # no terminal, no --force: refused, no record
    assert refused.returncode == 2
    assert run_cli("--run", "repair", "-t", "edge", "--dry-run", env=env).returncode == 0
    repaired = run_cli("--run", "repair", "-t", "edge", "--force", "--json", env=env)
    assert repaired.returncode == 0, repaired.stdout[-2000:] + repaired.stderr[-2000:]
    run_id = json.loads(repaired.stdout)["run_id"]

    rebuilt = run_cli("--run", "rebuild", "-t", "edge", "--force", env=env)
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr[-2000:]
    cleaned = run_cli("--run", "s3clean", "clean", "-t", "edge", "--pattern", "*.parquet", "--force", env=env)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr

    runs = _history(run_cli, env)
    assert [(r["command"], r["status"]) for r in runs[:3]] == [("s3clean clean", "success"), ("rebuild", "success"), ("repair", "success")]
    clean, rebuild, repair = runs[:3]
    assert repair["run_id"] == run_id and repair["options"]["force"] is True
    assert repair["tables"][0]["rows_loaded"] == 3 and repair["tables"][0]["differences"]["missing_in_warehouse"] == 2
    assert rebuild["tables"][0]["rows_loaded"] == wh.q("SELECT count(*) FROM public.edge")[0][0] + 3  # and the repair batch
    assert set(rebuild["tables"][0]["seconds"]) == {"load"}
    assert clean["options"] == {"operation": "clean", "tables": ["edge"], "pattern": "*.parquet", "force": True}
    assert clean["tables"][0]["table"] == table and clean["tables"][0]["files"] > 0 and clean["tables"][0]["bytes"] > 0
    assert len(runs) == 6  # sync, 2 verify, repair, rebuild, s3clean: the refusal and the dry run left none
    listed = run_cli("--run", "history", env=env)
    assert listed.returncode == 0 and all(c in listed.stdout for c in ("verify", "rebuild", "repair", "s3clean clean"))
    assert not metrics.exists()
