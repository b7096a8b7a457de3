"""Timestamps an operator types (``watermark set --timestamp``, ``verify --since``) and how the
engine writes them back: one rule for both front ends and the engine.

``YYYY-MM-DD HH:MM:SS`` with an optional fraction, ``YYYY-MM-DDTHH:MM:SS``, or a bare date;
a trailing `` UTC`` or ``Z`` (as the front ends print times, ``s3rb_tui.display.moment``) is
accepted. Values are naive UTC: the source session runs in +00:00.
"""

from __future__ import annotations

import datetime as dt

from s3rb_tui.engine.core.errors import UsageError

TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_timestamp(text: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM:SS' (fractions and a bare date accepted; a trailing ' UTC' or 'Z', as
    the front ends print times, too), as naive UTC."""
    text = (text or "").strip()
    for suffix in (" UTC", "Z"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].rstrip()
            break
    for fmt in TIMESTAMP_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise UsageError(f"invalid timestamp {text[:40]!r}", "use 'YYYY-MM-DD HH:MM:SS', e.g. --timestamp '2025-08-09 20:00:01'")


def format_timestamp(moment: dt.datetime) -> str:
    """As a source cursor compares: whole seconds, or microseconds when there is a fraction."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if moment.microsecond else moment.strftime("%Y-%m-%d %H:%M:%S")
