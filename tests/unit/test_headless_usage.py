"""Bad usage and bad input: exit 2, one line on stderr, no traceback, nothing touched."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.headless import run_in_process


def cli(*args, env=None, cwd=None):
    """In this process (tests/support/headless.py): the usage rules are the same, without a child's start-up."""
    return run_in_process(*args, env=env, cwd=cwd)


def cli_subprocess(*args, env=None, cwd=None):
    """The real entry point in a child (``python -m s3rb_tui``): its exit code, imports and traceback."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd or "/tmp")}
    return subprocess.run([sys.executable, "-m", "s3rb_tui", *args], env={**base, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def store_env(tmp_path: Path):
    store = tmp_path / "store"
    # A closed port: if anything tried to connect, the error would be exit 1, not 2.
    return {"STORE_URL": f"file://{store}", "DB_PORT": "1", "DB_DATABASE": "db"}, store


def assert_one_line_usage_error(proc):
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("{")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("s3rb-tui: error:")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("table", ["x;drop table y", "a.b.c", "sakila.`rental`", "t" * 65, "a b"])
def test_hostile_table_names(table, store_env, tmp_path):
    env, store = store_env
    proc = cli("--run", "backup", "-t", table, env=env, cwd=tmp_path)
    assert_one_line_usage_error(proc)
    assert "invalid" in proc.stderr
    assert not store.exists(), "nothing may be written for bad input"


@pytest.mark.parametrize("args,needle", [
    (["backup", "-t", "db.t", "-s", "parallel"], "invalid choice: 'parallel'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["backup", "-t", "db.t", "--batch-size", "0"], "must be at least 1"),
    (["watermark-count", "set-count", "-t", "db.t", "--count", "-5"], "negative"),
    (["watermark-count", "set-count", "-t", "db.t", "--count", "1.5"], "not a whole number"),
    (["watermark", "set", "-t", "db.t", "--timestamp", "yesterday"], "invalid timestamp"),
    (["watermark", "set", "-t", "db.t"], "needs --timestamp"),
    (["backup"], "-t/--tables"),
])
def test_bad_usage_is_exit_2_with_one_line(args, needle, store_env, tmp_path):
    env, store = store_env
    proc = cli("--run", *args, env=env, cwd=tmp_path)
    assert_one_line_usage_error(proc)
    assert needle in proc.stderr
    assert not store.exists()


def test_bad_configuration_is_exit_2(tmp_path):
    proc = cli("--run", "backup", "-t", "db.t", env={"S3_BUCKET_NAME": "", "BACKUP_BATCH_SIZE": "lots"}, cwd=tmp_path)
    assert_one_line_usage_error(proc)
    assert "BACKUP_BATCH_SIZE='lots'" in proc.stderr


def test_info_and_help_work_without_configuration(tmp_path):
    info = cli_subprocess("--run", "info", cwd=tmp_path)
    assert info.returncode == 0 and "sequential" in info.stdout and "inter-table" in info.stdout
    top = cli_subprocess("--help", cwd=tmp_path)
    assert top.returncode == 0 and "--run COMMAND" in top.stdout and "watermark-count" in top.stdout
    sub = cli_subprocess("--run", "sync", "--help", cwd=tmp_path)
    assert sub.returncode == 0 and "--redshift-only" in sub.stdout


def test_config_masks_secrets_and_exits_2_when_it_cannot_work(tmp_path):
    proc = cli("--run", "config", env={"DB_PASSWORD": "pw-very-secret", "S3_BUCKET_NAME": ""}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "pw-very-secret" not in proc.stdout + proc.stderr
    assert "DB_PASSWORD" in proc.stdout and "****" in proc.stdout
    assert "S3_BUCKET_NAME is empty" in proc.stdout


def test_debug_shows_the_traceback(tmp_path):
    proc = cli_subprocess("--run", "backup", "-t", "db.t", "--debug", env={"S3_BUCKET_NAME": ""}, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_fast_extraction_of_a_non_mysql_source_is_bad_usage(store_env, tmp_path):
    env, store = store_env
    env = {**env, "DB_DIALECT": "sqlite", "DB_SQLITE_PATH": str(tmp_path / "none.sqlite")}
    proc = cli("--run", "backup", "-t", "db.t", "--extract-engine", "fast", env=env, cwd=tmp_path)
    assert_one_line_usage_error(proc)
    assert "reads MySQL only" in proc.stderr
    assert not store.exists() and not (tmp_path / "none.sqlite").exists()
