"""``--metrics-file`` (issue 15) from real headless runs on the demo's SQLite source and a local
store, and on MariaDB + the S3 endpoint: the file parses with prometheus_client's own parser, has
every series per table, and keeps the series of tables a later run did not touch."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.tui import workspace as wsdata


def samples(path: Path) -> dict[tuple[str, str], float]:
    """{(sample name, table label or ''): value} as Prometheus would read the file."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out[(s.name, s.labels.get("table", ""))] = s.value
    return out


def test_the_metrics_file_has_every_series_and_keeps_untouched_tables(run_cli, tmp_path):
    env = wsdata.build(tmp_path / "ws", rows=500, state="source")
    path = tmp_path / "textfile" / "s3rb.prom"
    path.parent.mkdir()
    first = run_cli("--run", "sync", "-t", wsdata.PARTNERS, "--metrics-file", path, "--json", env=env)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    m = samples(path)
    p = wsdata.PARTNERS
    rows = doc["tables"][0]["rows"]
    assert m[("s3rb_table_last_run_success", p)] == 1.0
    assert m[("s3rb_table_rows_extracted_total", p)] == rows and m[("s3rb_table_rows_loaded_total", p)] == rows
    assert m[("s3rb_table_last_success_timestamp_seconds", p)] > 1.7e9
    assert m[("s3rb_table_lag_seconds", p)] >= 0 and m[("s3rb_table_run_seconds", p)] > 0
    assert m[("s3rb_run_duration_seconds", "")] > 0
    # a second cron entry writes another table into the same file: the first one's series stay
    second = run_cli("--run", "backup", "-t", wsdata.CLAIMS, "--metrics-file", path, env=env)
    assert second.returncode == 0, second.stderr
    m2 = samples(path)
    assert m2[("s3rb_table_last_run_success", wsdata.CLAIMS)] == 1.0
    for name in ("s3rb_table_last_run_success", "s3rb_table_rows_extracted_total", "s3rb_table_last_success_timestamp_seconds"):
        assert m2[(name, p)] == m[(name, p)], name
    assert not list(path.parent.glob("*.tmp*")), "written through a temporary file and renamed"


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


def test_a_metrics_file_in_a_missing_directory_is_bad_usage(run_cli, tmp_path):
    env = wsdata.build(tmp_path / "ws", rows=200, state="source")
    bad = run_cli("--run", "backup", "-t", wsdata.PARTNERS, "--metrics-file", tmp_path / "nope" / "m.prom", env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
    assert not (Path(env["STORE_URL"].removeprefix("file://")) / "runs").exists(), "nothing ran"
