"""Cron edges and small CLI items of issue 13: --log-file that cannot be opened, clean --days abc,
--help listing the options, --demo after --run, --readonly keeping dry runs (and refusing writes),
--json errors as a JSON document on stdout. The CLI runs in this process (one check in a subprocess); the demo workspace
(SQLite source, local store, DuckDB) is the working source where one is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3rb_tui import cli as cli_module
from s3rb_tui.headless import COMMANDS
from tests.support.headless import run_in_process

TABLE = "settlement.settlement_claim_detail"


def cli(*args, env=None, cwd=None):
    """In this process (tests/support/headless.py)."""
    return run_in_process(*args, env=env, cwd=cwd)


def cli_subprocess(*args, env=None, cwd=None):
    """The real entry point in a child: the exit code a cron job sees."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd or "/tmp")}
    return subprocess.run([sys.executable, "-m", "s3rb_tui", *args], env={**base, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def one_error_line(proc) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("s3rb-tui: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture
def demo_env(tmp_path: Path) -> dict:
    return {"S3RB_DEMO_DIR": str(tmp_path / "demo"), "S3RB_DEMO_ROWS": "2000"}


def test_a_log_file_that_cannot_be_opened_is_exit_2_in_one_line(tmp_path):
    proc = cli_subprocess("--run", "info", "--log-file", "/nonexistent/x", cwd=tmp_path)
    assert proc.returncode == 2  # was: FileNotFoundError, exit 1
    assert "cannot open --log-file '/nonexistent/x'" in one_error_line(proc)


def test_clean_days_abc_names_days(tmp_path):
    proc = cli("--run", "clean", "--prefix", "incremental/", "--days", "abc", env={"STORE_URL": f"file://{tmp_path}/s"}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "'abc' is not a whole number of days" in one_error_line(proc)  # was "of rows"


def test_help_lists_the_options_and_every_command(tmp_path):
    top = cli("--help", cwd=tmp_path)
    assert top.returncode == 0
    for option in ("--version", "--debug", "--json", "--log-file", "--readonly", "--env-file", "--demo"):
        assert option in top.stdout, option
    assert all(f"\n  {name} " in top.stdout for name in COMMANDS), "every --run command is listed"
    run_help = cli("--run", "--help", cwd=tmp_path)
    assert run_help.returncode == 0 and all(o in run_help.stdout for o in ("--json", "--log-file", "--debug", "--version"))
    assert cli_module.USAGE.count("--version") >= 1


def test_demo_is_accepted_after_run(demo_env, tmp_path):
    proc = cli("--run", "watermark", "list", "--json", "--demo", env=demo_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # was: unrecognized arguments: --demo
    assert json.loads(proc.stdout) == []


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_readonly_keeps_the_dry_run_and_refuses_writes(demo_env, tmp_path):
    built = cli("--demo", "--run", "watermark", "list", env=demo_env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    root = Path(demo_env["S3RB_DEMO_DIR"])
    before = _files(root)
    dry = cli("--readonly", "--demo", "--run", "sync", "-t", TABLE, "--dry-run", "--json", env=demo_env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout)["tables"][0]["status"] == "dry run"
    for args in (["backup", "-t", TABLE], ["sync", "-t", TABLE, "--readonly"], ["watermark", "reset", "-t", TABLE, "--force"],
                 ["watermark-count", "set-count", "-t", TABLE, "--count", "1", "--force"]):
        refused = cli("--demo", "--readonly", "--run", *args, env=demo_env, cwd=tmp_path)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "--readonly" in one_error_line(refused) and "nothing changed" in refused.stderr
    ok = cli("--demo", "--readonly", "--run", "status", "--json", env=demo_env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert _files(root) == before  # the dry run, the refused writes and status wrote nothing


@pytest.mark.parametrize("args,code,needle", [
    (["--run", "backup", "-t", "db.a b", "--json"], 2, "invalid table name"),
    (["--run", "backup", "--json", "--frobnicate"], 2, "unrecognized arguments"),
    (["--run", "watermark", "get", "-t", TABLE, "--json", "--demo"], 1, "no watermark for"),
    (["--run", "status", "--json", "--log-file", "/nonexistent/x"], 2, "cannot open --log-file"),
])
def test_json_errors_are_one_json_document_on_stdout(args, code, needle, demo_env, tmp_path):
    proc = cli(*args, env=demo_env, cwd=tmp_path)
    assert proc.returncode == code, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)  # exactly one document
    assert doc["ok"] is False and doc["exit_code"] == code and needle in doc["error"]
    assert needle in one_error_line(proc)
