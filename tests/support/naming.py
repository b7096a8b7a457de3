"""Unique, readable names for per-test databases and buckets (teammates run tests concurrently)."""

from __future__ import annotations

import re
import uuid


def unique_name(prefix: str, label: str, max_len: int = 63, sep: str = "_") -> str:
    """``<prefix><sep><label slug><sep><8 hex>``: lower-case letters, digits and ``sep`` only."""
    slug = re.sub(r"[^a-z0-9]+", sep, label.lower()).strip(sep)
    suffix = uuid.uuid4().hex[:8]
    room = max_len - len(prefix) - len(suffix) - 2 * len(sep)
    slug = slug[: max(room, 0)].strip(sep) or "t"
    return f"{prefix}{sep}{slug}{sep}{suffix}"
