"""pyarrow converts Python values without importing pandas.

pyarrow asks, the first time ``pa.array`` is given a Python list, whether pandas is installed (to
tell a pandas Series from a list) and imports it if so: 50 MiB of resident memory (``import
pyarrow`` 54 MiB, ``import pyarrow, pandas`` 104 MiB, peak RSS of a child process) and about
0.23 s of CPU in every run, for a check the engine never needs: it hands pyarrow lists, Arrow
arrays and NumPy arrays, never a pandas object. ``convert_without_pandas`` lets pyarrow's check
run once with pandas refused, so pyarrow records "no pandas" and never imports it for that check
again. Nothing else changes: an explicit ``import pandas`` still works, and so does
``Table.to_pandas`` (pyarrow retries the import when asked for pandas itself).

Invariant: called from the engine's type rules at import, before any conversion. The refusal
lasts for one ``pa.array([0])`` call; a thread importing pandas in that instant would get
``ModuleNotFoundError``, so it is done at import time, not while jobs run.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any, Sequence

import pyarrow as pa


class _RefusePandas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not used by the engine's conversions", name=fullname)
        return None


def convert_without_pandas() -> None:
    """Make pyarrow's is-it-pandas check settle on "no pandas" (a no-op if pandas is imported already)."""
    if "pandas" in sys.modules:
        return
    finder = _RefusePandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)
