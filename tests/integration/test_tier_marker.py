"""Every test collected under tests/integration carries the ``integration`` marker (given by this
directory's conftest), so ``-m "not integration"`` leaves every service test out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_every_test_here_is_marked_integration(request: pytest.FixtureRequest):
    here = [item for item in request.session.items if HERE in item.path.parents]
    assert here, "this test itself is collected here"
    unmarked = [item.nodeid for item in here if item.get_closest_marker("integration") is None]
    assert unmarked == []
