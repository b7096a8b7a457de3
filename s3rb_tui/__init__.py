"""s3rb-tui: incremental MySQL -> S3 (Parquet) -> Redshift pipeline with an operator console.

Arrow's allocator is jemalloc on Linux unless the operator chose one (``ARROW_DEFAULT_MEMORY_POOL``):
it hands the pages of freed batches back to the system, which the pyarrow wheels' default
(mimalloc) kept. Measured on a sync of the 1M-row settlement table to PostgreSQL (batch 50,000,
2 chunks, bench/sync_memory.py): 417 MiB peak with mimalloc, 291 MiB with jemalloc, 317 MiB with
the system allocator; the load phase alone (rebuild): 213, 164 and 171 MiB. Set here, in the
package's first module: pyarrow reads the variable when it is imported.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

if _sys.platform == "linux":  # the Linux wheels carry jemalloc (the Windows ones only mimalloc and the system's)
    _os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
