"""Handing memory the process has freed back to the system.

glibc keeps what is freed in its arenas (one per thread that allocated) and returns it only from
the top of a heap; every reader thread of ours (connectorx's, the CSV encoder's) leaves holes
that later allocations of another size do not fill. Measured (bench/sync_memory.py, 1M
settlement rows in files of 50,000): a sync to PostgreSQL peaked at 396 MiB without a trim per
file read and 254-271 MiB with one; the load alone, in a fresh process, at 187 MiB.
``malloc_trim(0)`` walks every arena and releases their free pages, a few milliseconds a call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable


def _libc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_MALLOC_TRIM = _libc_trim()


def release_freed_memory() -> None:
    """Hand the free pages of every glibc arena back to the system (nothing where the C library is
    not glibc). Call it after letting go of a large piece of work: a converted page, a file read."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
