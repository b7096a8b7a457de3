"""``run_cli``: the CLI in a subprocess with a clean environment. No service behind it: the offline
tier (tests/offline/conftest.py) and the integration tier (through tests/support/services.py) use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

CLI_TIMEOUT = 300.0


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """``run_cli(*args, env=None, cwd=None, timeout=300)``: run ``python -m s3rb_tui *args`` in a subprocess.

    The child gets a clean environment: PATH, a private HOME (tmp_path/home), the IMDS lookup
    disabled (no stray AWS credential chain), plus ``env``. ``cwd`` defaults to a private empty
    directory, so no ``.env`` is picked up by accident. Returns CompletedProcess with text output.
    """
    home = tmp_path / "home"
    workdir = tmp_path / "cwd"

    def run(*args: str, env: dict | None = None, cwd: str | Path | None = None, timeout: float = CLI_TIMEOUT,
            input: str | None = None) -> subprocess.CompletedProcess:
        home.mkdir(exist_ok=True)
        workdir.mkdir(exist_ok=True)
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "AWS_EC2_METADATA_DISABLED": "true",
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "s3rb_tui", *map(str, args)],
            env=child_env, cwd=str(cwd or workdir), capture_output=True, text=True, timeout=timeout,
            input=input, stdin=None if input is not None else subprocess.DEVNULL,
        )

    return run
