"""What a missing service means: a skip on a developer machine, a failure under ``CI=true``."""

from __future__ import annotations

import os
import subprocess
from typing import NoReturn, Sequence

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test locally; fail it under CI=true, where every service must be there."""
    if in_ci():
        pytest.fail(f"service unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"service unavailable: {reason}")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def try_start(command: Sequence[str], timeout: float = 60) -> str:
    """Run a service start command; return '' on success, else a one-line reason."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{' '.join(command)}: {exc}"
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return f"{' '.join(command)} exited {done.returncode}: {detail[-1] if detail else 'no output'}"
    return ""
