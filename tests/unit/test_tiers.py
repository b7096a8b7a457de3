"""The unit and offline tiers stand on their own: ``pytest tests/unit tests/offline`` imports no
service fixture, no psutil and no moto, and no test there asks for a service fixture. A child pytest plans both tiers
(``--setup-plan``: every module imported, every fixture resolved, nothing run) with those modules
made unimportable; a unit test that wanted ``mysql_server`` would fail there with "fixture not found"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("psutil", "moto", "tests.support.services")

PLAN_WITHOUT_SERVICES = f"""
import sys
import pytest

BLOCKED = {BLOCKED!r}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{{name}} is blocked: the unit and offline tiers must not need it")
        return None

sys.meta_path.insert(0, Blocker())
sys.exit(pytest.main(["--setup-plan", "-q", "-p", "no:cacheprovider", "tests/unit", "tests/offline"]))
"""


def test_the_unit_and_offline_tiers_need_no_psutil_moto_or_service_fixture():
    proc = subprocess.run([sys.executable, "-c", PLAN_WITHOUT_SERVICES], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "error" not in proc.stdout.splitlines()[-1], proc.stdout[-4000:]
    assert "SETUP" in proc.stdout  # the plan really resolved fixtures
