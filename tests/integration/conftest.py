"""The integration tier: tests that talk to real MariaDB, PostgreSQL, an S3 endpoint and sshd.

The service fixtures (tests/support/services.py) are visible here and nowhere else, and every test
collected under this directory carries the ``integration`` marker (``-m "not integration"`` leaves
the whole directory out; tests/unit/test_tiers.py checks both).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import *  # noqa: F403  (the service fixtures, by name)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
