"""Arrow's allocator: jemalloc on Linux (mimalloc, the wheels' default, kept the pages of freed
batches: a sync's peak grew with the table, bench/sync_memory.py); an operator's choice wins."""

import os
import subprocess
import sys

import pytest

PROBE = "import s3rb_tui, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _backend(env_pool: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux wheels carry jemalloc")
def test_a_process_of_ours_allocates_arrow_memory_with_jemalloc():
    assert _backend(None) == "jemalloc"


def test_the_operators_choice_of_allocator_wins():
    assert _backend("system") == "system"
