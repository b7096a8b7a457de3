"""``--metrics-file`` (issue 15) from real headless runs on MariaDB + the S3 endpoint, parsed with
prometheus_client's own parser: a failed table reads 0 and keeps its last success (the demo stack:
tests/offline/test_history_demo.py)."""

from __future__ import annotations

from tests.support.prometheus import samples


def test_a_failed_table_reads_0_and_keeps_its_last_success(run_cli, make_env, sakila_shared, tmp_path):
    path = tmp_path / "s3rb.prom"
    env = make_env(METRICS_FILE=str(path))  # from the settings, no option
    table = f"{sakila_shared}.actor"
    assert run_cli("--run", "backup", "-t", table, env=env).returncode == 0
    good = samples(path)
    assert good[("s3rb_table_last_run_success", table)] == 1.0 and good[("s3rb_table_rows_extracted_total", table)] == 200
    assert good[("s3rb_table_lag_seconds", table)] > 10 * 365 * 86400  # Sakila's rows are from 2006
    assert run_cli("--run", "backup", "-t", table, env={**env, "DB_PASSWORD": "wrong"}).returncode == 1
    bad = samples(path)
    assert bad[("s3rb_table_last_run_success", table)] == 0.0
    assert bad[("s3rb_table_last_success_timestamp_seconds", table)] == good[("s3rb_table_last_success_timestamp_seconds", table)]

