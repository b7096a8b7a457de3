"""Small display helpers: ages, sizes, counts, cursor timestamps."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
_TIMESTAMP_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,6})?)?$")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """A cursor value or ISO time as an aware UTC datetime; None if it is not a timestamp."""
    if value is None or isinstance(value, (int, float)):
        return None
    text = str(value).strip().rstrip("Z").replace("+00:00", "")
    for fmt in TIMESTAMP_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def validate_timestamp(text: str) -> str | None:
    """None when ``text`` is a valid 'YYYY-MM-DD HH:MM:SS' source timestamp, else what is wrong."""
    text = text.strip()
    if not text:
        return "enter a timestamp like 2025-08-09 20:00:01"
    if not _TIMESTAMP_SHAPE.match(text):
        return "use the form YYYY-MM-DD HH:MM:SS"
    if parse_timestamp(text) is None:
        return "not a real date and time"
    return None


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(abs(seconds))
    sign = "-" if seconds < 0 else ""
    if s < 60:
        return f"{sign}{s}s"
    if s < 3600:
        return f"{sign}{s // 60}m"
    if s < 86400:
        return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{sign}{s // 86400}d{(s % 86400) // 3600:02d}h"


def age_between(earlier: dt.datetime | None, now: dt.datetime) -> str:
    return human_age((now - earlier).total_seconds()) if earlier else "—"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def short_time(iso_text: str | None) -> str:
    moment = parse_timestamp(iso_text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else (str(iso_text) if iso_text else "—")
