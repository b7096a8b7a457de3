"""One format per kind of value, for both front ends (the console and the headless CLI).

Plain ``str`` in, plain ``str`` out: no Rich, no Textual (the headless path imports this), no
engine state. Every value a user compares between the console and the CLI goes through here:

- **times**: always UTC, ``YYYY-MM-DD HH:MM:SS UTC`` (``moment``); source cursor values
  (``data_timestamp``) keep their fraction when they have one, because the keyset position
  depends on it, and read back into ``watermark set --timestamp`` as printed (the suffix is
  optional there). Naive values are UTC: the source session runs in +00:00.
- **lag and ages**: the two largest units, no spaces: ``45s``, ``12m``, ``3h05m``, ``15d04h``,
  ``21y012d`` (``lag``) — not humanize's "21 years", which hides 11 months.
- **sizes**: binary units, ``0 B``, ``512 B``, ``1.2 KiB``, ``3.4 MiB`` (``size``).
- **keys**: the values only, ``199`` or ``10, 3`` for a composite key, never ``[199]`` (``key``).
- **counts**: ``1,234``; **durations** of runs ``1.8s``, ``2m05s``; **rates** ``12,345 rows/s``.
- a missing value is ``MISSING`` everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

MISSING = "-"

_PARSE_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_moment(value: Any) -> dt.datetime | None:
    """A datetime, an ISO text (``Z``/``+00:00``/`` UTC`` suffix or none: UTC) or a cursor
    timestamp as an aware UTC datetime; None for anything else (integers, None, junk)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if value is None or isinstance(value, (int, float, bool)):
        return None
    text = str(value).strip()
    for suffix in (" UTC", "Z", "+00:00"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    for fmt in _PARSE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    try:  # other offsets, e.g. +02:00
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def moment(value: Any) -> str:
    """When something happened (a run, a file, a lock): ``2025-08-09 20:00:01 UTC``, seconds."""
    parsed = parse_moment(value)
    if parsed is None:
        return MISSING if value in (None, "") else str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def data_timestamp(value: Any) -> str:
    """A cursor value: a timestamp as ``moment`` but with its fraction when it has one
    (``2025-08-09 20:00:01.250000 UTC``); an integer cursor as a count; None as MISSING."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    parsed = parse_moment(value)
    if parsed is None:
        return str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S.%f UTC" if parsed.microsecond else "%Y-%m-%d %H:%M:%S UTC")


_YEAR = 365 * 86400


def lag(seconds: float | None) -> str:
    """How far behind (or how old): the two largest units, the second zero-padded."""
    if seconds is None:
        return MISSING
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    if s < 60:
        return f"{sign}{s}s"
    if s < 3600:
        return f"{sign}{s // 60}m"
    if s < 86400:
        return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m"
    if s < _YEAR:
        return f"{sign}{s // 86400}d{(s % 86400) // 3600:02d}h"
    return f"{sign}{s // _YEAR}y{(s % _YEAR) // 86400:03d}d"


def age_between(earlier: dt.datetime | None, now: dt.datetime) -> str:
    return lag((now - earlier).total_seconds()) if earlier else MISSING


def size(n: int | None) -> str:
    if n is None:
        return MISSING
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # unreachable


def key(value: Any) -> str:
    """A primary key value or tuple of values: ``199``, ``10, 3``; None as MISSING."""
    if value is None:
        return MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(key(v) if isinstance(v, (list, tuple)) else str(v) for v in value) if value else MISSING
    return str(value)


def count(n: int | None) -> str:
    return MISSING if n is None else f"{n:,}"


def duration(seconds: float | None) -> str:
    """Elapsed or remaining time of a run: ``0.4s``, ``12.0s``, ``2m05s``, ``1h02m``."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f}s"
    return lag(seconds) if seconds >= 3600 else f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


#: a host in a one-line cell: its first DNS label, cut to this many characters (… marks the cut),
#: so ``cron@etl-2 02:00 failed`` and a long host's phrase both fit the Dashboard at 120 columns
SHORT_HOST_CHARS = 10


def short_where(where: str) -> str:
    """``cron@etl-worker-prod-eu-1.corp.example`` as ``cron@etl-worker-p…``; a short one unchanged."""
    how, at, host = where.partition("@")
    if not at:
        return where
    label = host.split(".")[0] or host
    if len(label) > SHORT_HOST_CHARS:
        label = label[:SHORT_HOST_CHARS - 1] + "…"
    return f"{how}@{label}"


def run_label(where: str, started: Any, status: str, now: dt.datetime, *, short: bool = False) -> str:
    """A run in one short phrase, ``cron@etl-2 02:00 failed``: how and where, when (UTC; the date
    too when it was not today), and its result. ``short``: the host as ``short_where`` has it."""
    if short:
        where = short_where(where)
    moment_ = parse_moment(started)
    if moment_ is None:
        when = MISSING
    elif moment_.date() == now.astimezone(dt.timezone.utc).date():
        when = moment_.strftime("%H:%M")
    else:
        when = moment_.strftime("%m-%d %H:%M")
    return f"{where} {when} {status}"


def rate(rows_per_s: float | None) -> str:
    return MISSING if rows_per_s is None else f"{rows_per_s:,.0f} rows/s"


def table_text(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table: left-aligned columns two spaces apart, a rule under the headers."""
    cells = [[str(h) for h in headers]] + [[MISSING if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
