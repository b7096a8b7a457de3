"""Ages on the command line: ``30m``, ``24h``, ``7d`` (also ``45s`` and ``2w``)."""

from __future__ import annotations

import datetime as dt
import re

from s3rb_tui.engine.core.errors import UsageError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, option: str = "--older-than") -> dt.timedelta:
    """A positive whole number and one unit (s, m, h, d, w). Raises UsageError otherwise."""
    m = _DURATION.match(text or "")
    if not m:
        raise UsageError(
            f"invalid {option} value {str(text)[:40]!r}",
            "use a whole number and a unit: 30m, 24h, 7d (s, m, h, d, w)",
        )
    amount = int(m.group(1))
    if amount <= 0:
        raise UsageError(f"{option} must be more than zero (got {text!r})", "e.g. 7d; to select every file, leave the option out")
    return dt.timedelta(**{_UNITS[m.group(2).lower()]: amount})


def format_duration(delta: dt.timedelta) -> str:
    """Short, exact form: 7d, 1d 2h, 30m, 45s."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return " ".join(parts)
