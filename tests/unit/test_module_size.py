"""No module of the package over 500 lines (the team's standard: a longer one holds two things)."""

from pathlib import Path

import s3rb_tui

LIMIT = 500


def test_no_module_over_500_lines():
    package = Path(s3rb_tui.__file__).parent
    long = {str(p.relative_to(package)): n for p in package.rglob("*.py") if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}
