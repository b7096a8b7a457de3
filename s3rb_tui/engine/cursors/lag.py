"""The lag of a table's data: seconds between the newest extracted cursor value and now. One rule
for ``status`` (its lag column and ``--max-lag``), the Dashboard and the metrics file."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def data_lag_seconds(last: Any, source_now: dt.datetime | None, zone_offset_seconds: float = 0.0) -> float | None:
    """Seconds between the newest extracted cursor value and now (the source's clock when known;
    the source session runs in UTC, so naive values are UTC). A DATETIME cursor holds the wall
    clock of its zone (DB_DATETIME_ZONE): ``zone_offset_seconds`` (the latest run's) brings now there."""
    moment = _as_datetime(last)
    if moment is None:
        return None
    now = _naive_utc(source_now or dt.datetime.now(dt.timezone.utc)) + dt.timedelta(seconds=zone_offset_seconds)
    return round(max((now - _naive_utc(moment)).total_seconds(), 0.0), 1)
