"""Run records and the metrics file on the demo stack (SQLite source, local-directory store, DuckDB)
through the CLI in a subprocess (issue 15): the record lands under runs/ in the local store, and
``--metrics-file`` has every series and keeps the series of tables a later run did not touch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3rb_tui.demo import demo_env
from tests.support.prometheus import samples

PARTNERS, CLAIMS = "settlement.partner_info", "settlement.settlement_claim_detail"


@pytest.fixture
def demo(tmp_path: Path) -> tuple[dict, Path]:
    """(env for run_cli, the demo's store directory): a private demo workspace, built on first use."""
    root = tmp_path / "demo"
    env = {"S3RB_DEMO_DIR": str(root), "S3RB_DEMO_ROWS": "2000"}
    return env, Path(demo_env(root)["STORE_URL"].removeprefix("file://"))


def test_a_run_on_a_local_store_is_recorded(run_cli, demo):
    env, store = demo
    ok = run_cli("--demo", "--run", "sync", "-t", PARTNERS, "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    run_id = json.loads(ok.stdout)["run_id"]
    assert (store / "runs" / run_id[:4] / run_id[4:6] / run_id[6:8] / f"{run_id}.json").is_file()
    shown = run_cli("--demo", "--run", "history", run_id, "--json", env=env)
    doc = json.loads(shown.stdout)
    assert doc["status"] == "success" and doc["tables"][0]["rows_extracted"] == doc["tables"][0]["rows_loaded"] > 0
    assert set(doc["tables"][0]["seconds"]) == {"backup", "load"}


def test_the_metrics_file_has_every_series_and_keeps_untouched_tables(run_cli, demo, tmp_path):
    env, _ = demo
    path = tmp_path / "textfile" / "s3rb.prom"
    path.parent.mkdir()
    first = run_cli("--demo", "--run", "sync", "-t", PARTNERS, "--metrics-file", path, "--json", env=env)
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)["tables"][0]["rows"]
    m = samples(path)
    assert m[("s3rb_table_last_run_success", PARTNERS)] == 1.0
    assert m[("s3rb_table_rows_extracted_total", PARTNERS)] == rows and m[("s3rb_table_rows_loaded_total", PARTNERS)] == rows
    assert m[("s3rb_table_last_success_timestamp_seconds", PARTNERS)] > 1.7e9
    assert m[("s3rb_table_lag_seconds", PARTNERS)] >= 0 and m[("s3rb_table_run_seconds", PARTNERS)] > 0
    assert m[("s3rb_run_duration_seconds", "")] > 0
    # a second cron entry writes another table into the same file: the first one's series stay
    second = run_cli("--demo", "--run", "backup", "-t", CLAIMS, "--metrics-file", path, env=env)
    assert second.returncode == 0, second.stderr
    m2 = samples(path)
    assert m2[("s3rb_table_last_run_success", CLAIMS)] == 1.0
    for name in ("s3rb_table_last_run_success", "s3rb_table_rows_extracted_total", "s3rb_table_last_success_timestamp_seconds"):
        assert m2[(name, PARTNERS)] == m[(name, PARTNERS)], name
    assert sorted(p.name for p in path.parent.iterdir()) == ["s3rb.prom"], "written through a temporary file and renamed"


def test_a_metrics_file_in_a_missing_directory_is_bad_usage(run_cli, demo, tmp_path):
    env, store = demo
    bad = run_cli("--demo", "--run", "backup", "-t", PARTNERS, "--metrics-file", tmp_path / "nope" / "m.prom", env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
    assert not (store / "runs").exists(), "nothing ran"
