"""pyarrow's first conversion of a Python list imports pandas (50 MiB resident) unless the engine
settles its check first (engine/core/arrow_no_pandas.py). Run in a fresh interpreter: the test
process itself may have imported pandas already."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from s3rb_tui.engine.core import type_rules
import pyarrow as pa
pa.array([1, 2, 3])
pa.array(["a"], type=pa.string())
print("after conversions:", "pandas" in sys.modules)
print("to_pandas:", type(pa.table({"a": [1]}).to_pandas()).__name__)
"""


def test_conversions_leave_pandas_unimported_and_to_pandas_still_works():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "after conversions: False" in out.stdout
    assert "to_pandas: DataFrame" in out.stdout
