"""The run's upper bound: how far a run may read a cursor, and why it stops there.

A run reads rows with a cursor after the watermark and up to a bound fixed once when it starts.
Every row that appears later with a cursor at or below that bound is lost (the next run starts
after it), so the bound stays behind each way that can happen:

1. **Precision.** A cursor of precision p only says in which unit of p a row changed: a row read
   during second S and changed again later in S keeps cursor S. The bound is the last *complete*
   unit of the cursor's precision (a DATE's previous day, a DATETIME(0)'s previous second, a
   DATETIME(6)'s previous microsecond) — ``cursor_bound``, the one rule every source applies.
2. **Open transactions.** A transaction stamps its rows when it writes them and makes them
   visible when it commits. The bound is never later than the start of the oldest open
   transaction that has written or locked anything (MySQL's ``information_schema.INNODB_TRX``;
   ``SourceClock.oldest_writer``). Where the source cannot show them (no PROCESS privilege), the
   bound falls back to the clock minus ``BACKUP_LAG_SECONDS`` and the run says why.
3. **Time zones.** TIMESTAMP cursors are absolute (read in UTC). DATETIME and DATE cursors hold the
   wall clock of whoever wrote them: the bound is computed in ``DB_DATETIME_ZONE`` (default: the
   server's own time zone, which is what NOW() writes in a session that does not set its own).

Integer cursors have no clock: they are not bounded here (see ``engine/ops/version_overlap.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from s3rb_tui.engine.core.type_rules import Column, TableSchema

CLOCK_CURSOR_TYPES = ("datetime", "timestamp", "date")
BOUND_TEXT = "%Y-%m-%d %H:%M:%S.%f"
#: an open transaction holding the bound back longer than this is named in the run's warnings
LONG_TRANSACTION_SECONDS = 600


def is_clock_cursor(column: Column) -> bool:
    return column.data_type in CLOCK_CURSOR_TYPES


def as_datetime(value: Any) -> dt.datetime:
    """A clock value as a naive datetime: 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]', a datetime or a date."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.strip().replace("T", " "))
    raise ValueError(f"{value!r} is not a date or time")


def cursor_bound(column: Column, moment: Any) -> Any:
    """The largest cursor value a run may read when the clock, in the cursor's zone, says ``moment``:
    the last complete unit of the cursor's precision. A numeric ``moment`` (an integer cursor's
    initial-scan bound) is kept as it is; a clock moment for a numeric cursor bounds nothing (None)."""
    if moment is None:
        return None
    if not is_clock_cursor(column):
        return moment if isinstance(moment, (int, Decimal)) and not isinstance(moment, bool) else None
    when = as_datetime(moment)
    if column.data_type == "date":
        return (when.date() - dt.timedelta(days=1)).isoformat()
    unit = 10 ** (6 - min(max(column.precision or 0, 0), 6))  # in microseconds
    complete = when.replace(microsecond=when.microsecond - when.microsecond % unit)
    return (complete - dt.timedelta(microseconds=unit)).strftime(BOUND_TEXT)


def moment_reading(column: Column, value: Any) -> Any:
    """The moment whose bound (``cursor_bound``) is ``value`` itself: for a caller that wants the
    rows up to a cursor value it already has (a watermark), not up to a clock reading."""
    if value is None or not is_clock_cursor(column):
        return value
    when = as_datetime(value)
    if column.data_type == "date":
        return (when.date() + dt.timedelta(days=1)).isoformat()
    unit = 10 ** (6 - min(max(column.precision or 0, 0), 6))
    return (when.replace(microsecond=when.microsecond - when.microsecond % unit) + dt.timedelta(microseconds=unit)).strftime(BOUND_TEXT)


@dataclass(frozen=True)
class OpenTransaction:
    thread_id: int
    started_utc: dt.datetime  # naive UTC, whole seconds (the server's resolution)


@dataclass(frozen=True)
class SourceClock:
    """What the source says about time when a run starts (naive datetimes).

    ``zone``: the zone DATETIME/DATE cursors are written in, as shown to the operator;
    ``zone_offset``: its offset from UTC now. ``transactions``: True when the open transactions
    were read, False when they could not be (``why_not`` says why), None where the source has
    none to show (the SQLite demo)."""

    now_utc: dt.datetime
    zone: str
    zone_offset: dt.timedelta = dt.timedelta(0)
    transactions: bool | None = None
    oldest_writer: OpenTransaction | None = None
    why_not: str | None = None

    def in_zone(self, utc: dt.datetime) -> dt.datetime:
        return utc + self.zone_offset


@dataclass(frozen=True)
class RunBound:
    """One table's bound for one run. ``moment`` is what the source is given (its clock in the
    cursor's zone; None for an integer cursor), ``cursor_bound`` the largest cursor value read."""

    moment: str | None
    cursor_bound: Any
    clock: str | None  # the source's clock in the cursor's zone (a later cursor is in the future)
    zone: str | None  # the zone the cursor is compared in; None for integer cursors
    limited_by: str  # clock | lag | open transaction | none
    cursor_type: str | None = None
    zone_offset_seconds: float = 0.0  # the cursor's zone ahead of UTC (0 for TIMESTAMP)
    open_transaction: OpenTransaction | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> dict[str, Any]:
        held = self.open_transaction
        return {
            "moment": self.moment, "cursor_bound": self.cursor_bound, "clock": self.clock, "zone": self.zone,
            "cursor_type": self.cursor_type, "limited_by": self.limited_by, "text": self.text(),
            "open_transaction": None if held is None else {"thread_id": held.thread_id,
                                                           "started_utc": held.started_utc.strftime(BOUND_TEXT)},
        }

    def text(self) -> str:
        """The bound in words, for ``--dry-run``."""
        if self.zone is None:
            return "no upper bound (an integer cursor has no clock)"
        why = {"clock": "the source's clock", "lag": "the clock minus BACKUP_LAG_SECONDS",
               "open transaction": "the oldest open transaction"}.get(self.limited_by, self.limited_by)
        held = self.open_transaction
        if held is not None:
            why += f" (MySQL thread {held.thread_id}, open since {held.started_utc:%Y-%m-%d %H:%M:%S} UTC)"
        return (f"cursor <= {self.cursor_bound}: {(self.cursor_type or '').upper()} in {self.zone}, set by {why} "
                f"at {self.clock}")


def _fmt(moment: dt.datetime) -> str:
    return moment.strftime(BOUND_TEXT)


def lag_warning(clock: SourceClock, lag: int, user: str | None) -> str:
    who = f" TO '{user}'" if user else ""
    return (f"cannot read information_schema.INNODB_TRX ({clock.why_not}): this run's bound is the source's clock "
            f"minus BACKUP_LAG_SECONDS ({lag} s), so a transaction open longer than that which commits rows with an "
            f"older cursor would be missed; GRANT PROCESS ON *.*{who} lets the bound follow open transactions, "
            "or raise BACKUP_LAG_SECONDS above your longest write transaction")


def plan_bound(source: Any, schema: TableSchema, zone: str, lag_seconds: int, user: str | None = None) -> RunBound | None:
    """The bound of a run of ``schema`` read from ``source`` (None for a snapshot). Only a clock
    cursor asks the source for its clock and open transactions."""
    if not schema.incremental:
        return None
    if not is_clock_cursor(schema.column(schema.cursor_column)):  # type: ignore[arg-type]
        return RunBound(moment=None, cursor_bound=None, clock=None, zone=None, limited_by="none")
    return run_bound(schema, source.clock(zone), lag_seconds, user)


def run_bound(schema: TableSchema, clock: SourceClock, lag_seconds: int, user: str | None = None) -> RunBound:
    """The bound of one run of ``schema``: the clock minus the lag, held back to the oldest open
    writing transaction, in the zone the cursor is written in (``cursor_bound`` applies the
    precision when the source reads). Integer cursors and snapshots: no bound."""
    column = schema.column(schema.cursor_column) if schema.cursor_column else None
    if column is None or not is_clock_cursor(column):
        return RunBound(moment=None, cursor_bound=None, clock=None, zone=None, limited_by="none")
    moment = clock.now_utc - dt.timedelta(seconds=lag_seconds)
    limited_by = "lag" if lag_seconds else "clock"
    held, warnings = None, []
    writer = clock.oldest_writer
    if writer is not None and writer.started_utc < moment:
        moment, limited_by, held = writer.started_utc, "open transaction", writer
        age = (clock.now_utc - writer.started_utc).total_seconds()
        if age > LONG_TRANSACTION_SECONDS:
            warnings.append(f"a transaction open since {writer.started_utc:%Y-%m-%d %H:%M:%S} UTC (MySQL thread "
                            f"{writer.thread_id}, {age / 60:.0f} min) holds this run's bound there: rows changed "
                            "since are left to a later run")
    if clock.transactions is False:
        warnings.append(lag_warning(clock, lag_seconds, user))
    offset = dt.timedelta(0) if column.data_type == "timestamp" else clock.zone_offset
    if column.data_type == "timestamp":  # absolute: read in UTC whatever the writers' zones
        zone, now, moment_in = "UTC", clock.now_utc, moment
    else:
        zone, now, moment_in = clock.zone, clock.in_zone(clock.now_utc), clock.in_zone(moment)
    return RunBound(moment=_fmt(moment_in), cursor_bound=cursor_bound(column, moment_in), clock=_fmt(now), zone=zone,
                    limited_by=limited_by, cursor_type=column.data_type, open_transaction=held, warnings=tuple(warnings),
                    zone_offset_seconds=offset.total_seconds())


def zone_offset(zone: str, now_utc: dt.datetime) -> dt.timedelta:
    """The offset from UTC of ``zone`` ('+09:00', '-05:30', 'UTC' or an IANA name) at ``now_utc``,
    for sources without a server to ask (the SQLite demo). Raises ValueError for an unknown zone."""
    text = zone.strip()
    if not text or text.upper() in ("UTC", "SYSTEM"):
        return dt.timedelta(0)
    if text[0] in "+-" and len(text) == 6 and text[3] == ":":
        sign = -1 if text[0] == "-" else 1
        return sign * dt.timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        offset = now_utc.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(text)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {zone!r}") from e
    return offset or dt.timedelta(0)
