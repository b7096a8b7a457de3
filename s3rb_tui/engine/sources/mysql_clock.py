"""What a MySQL server says about time when a run starts: its clock, the zone DATETIME cursors are
written in, and the oldest open transaction that has written or locked anything
(``engine/cursors/bounds.py`` turns that into the run's bound); and a census of a table's cursor values.

Open transactions come from ``information_schema.INNODB_TRX``, with three facts measured on
MariaDB 10.11 behind the way it is read:

- ``trx_started`` is the server process's local time (``localtime_r``), not the session's zone:
  it is converted with ``CONVERT_TZ(.., 'SYSTEM', '+00:00')``; it has whole seconds (truncated,
  so never later than the real start).
- The view is a cache that the server refreshes only when nobody has read it for 0.1 s: a session
  polling it every 20 ms kept it empty through a whole Sakila load (78 reads, no transaction
  shown). So the read is made inside a transaction of our own (``START TRANSACTION WITH
  CONSISTENT SNAPSHOT``, started after the clock was read); the cache is fresh only if it shows
  that transaction. A stale cache is read again after the idle time, a few times, and if it never
  refreshes the run falls back to the lag, saying why.
- Transactions that have neither modified rows nor taken locks (``trx_rows_modified = 0`` and
  ``trx_lock_structs = 0``: readers, idle connections of a pool with autocommit off) are not
  waited for: anything they write later is stamped later than the clock read here.

Short writers are waited out rather than bounded by: the writers open when the clock is read and
younger than ``WAIT_SECONDS`` are watched (by transaction id) until they end, for at most that
long; only those still open then (and older ones) hold the bound back. Without it, any write
transaction open on a busy server (a one-second bulk insert elsewhere) held the bound back to the
start of its second — ``trx_started`` cannot tell whether it began before or after the clock read
— and rows committed just before the run were left to the next one. Writers that start after
the first read are not waited for: their rows are stamped after the clock.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pymysql

from s3rb_tui.engine.cursors.bounds import OpenTransaction, SourceClock
from s3rb_tui.engine.cursors.census import census_sql
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.core.table_names import quote_mysql

FRESH_ATTEMPTS = 8
CACHE_IDLE_SECONDS = 0.15  # more than the server's 0.1 s
WAIT_SECONDS = 2.0  # young writers open at the clock are waited for this long at most
#: errors meaning "this user cannot read the view": access denied (PROCESS), no such table
_UNREADABLE = {1227: "the user lacks the PROCESS privilege", 1142: "access denied", 1044: "access denied",
               1109: "the server has no such view", 1146: "the server has no such view"}

_CLOCK_SQL = ("SELECT UTC_TIMESTAMP(6), CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', COALESCE(NULLIF(%s, ''), @@global.time_zone)), "
              "@@global.time_zone, @@system_time_zone")
_TRX_SQL = ("SELECT trx_mysql_thread_id = CONNECTION_ID(), trx_id, trx_mysql_thread_id, "
            "CONVERT_TZ(trx_started, 'SYSTEM', '+00:00'), trx_rows_modified > 0 OR trx_lock_structs > 0 "
            "FROM information_schema.INNODB_TRX")


def _datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


class MySQLClock:
    """Mixed into ``MySQLSource`` (uses its ``query``, ``run`` and ``user``)."""

    def clock(self, zone: str = "", transactions: bool = True) -> SourceClock:
        [(utc, local, global_zone, system_zone)] = self.query(_CLOCK_SQL, (zone,))  # type: ignore[attr-defined]
        if local is None:
            raise JobError(f"DB_DATETIME_ZONE={zone!r} is not a time zone the MySQL server knows",
                           "use an offset such as +09:00, or load the server's time zone tables (mariadb-tzinfo-to-sql)")
        now = _datetime(utc)
        shown = zone or (f"the server's time zone (SYSTEM: {system_zone})" if global_zone == "SYSTEM"
                         else f"the server's time zone ({global_zone})")
        visible, oldest, why = self.oldest_writer(now) if transactions else (None, None, None)
        return SourceClock(now_utc=now, zone=shown, zone_offset=_datetime(local) - now, transactions=visible,
                           oldest_writer=oldest, why_not=why)

    def oldest_writer(self, now_utc: dt.datetime) -> tuple[bool, OpenTransaction | None, str | None]:
        """(readable, the oldest open transaction that wrote or locked anything, why not readable),
        after waiting out the young writers open at ``now_utc`` (see the module's docstring)."""
        writers = self._writers()
        if isinstance(writers, str):
            return False, None, writers
        young_after = now_utc - dt.timedelta(seconds=WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while any(t.started_utc > young_after for t in writers.values()) and time.monotonic() < deadline:
            time.sleep(CACHE_IDLE_SECONDS)
            still = self._writers()
            if isinstance(still, str):
                break  # keep what the first read showed
            writers = {trx: t for trx, t in writers.items() if trx in still}
        return True, min(writers.values(), key=lambda t: t.started_utc, default=None), None

    def _writers(self) -> dict[Any, OpenTransaction] | str:
        """The open writing transactions by transaction id, from a fresh read of the view, or why
        it cannot be read."""
        for attempt in range(FRESH_ATTEMPTS):
            if attempt:
                time.sleep(CACHE_IDLE_SECONDS)  # the server refreshes the view only after it sat unread
            rows = self.run("MySQL query", _read_transactions)  # type: ignore[attr-defined]
            if isinstance(rows, str):
                return rows
            if any(mine for mine, *_ in rows):
                return {trx: OpenTransaction(int(tid), _datetime(started)) for mine, trx, tid, started, writes in rows
                        if not mine and writes and started is not None}
        return (f"the server's cache of the view did not refresh in {FRESH_ATTEMPTS} reads "
                "(another session reads it more often than every 0.1 s)")

    def census(self, schema: TableSchema, clock_value: Any) -> tuple[Any, int, Any, int]:
        """(newest cursor, rows with a cursor later than ``clock_value``, the latest of those, rows with
        a NULL cursor): three index lookups on the cursor column in one round trip."""
        sql, params = census_sql(schema.ref.mysql(), quote_mysql(schema.cursor_column or ""), clock_value, "%s")
        [(newest, beyond, latest, nulls)] = self.query(sql, params)  # type: ignore[attr-defined]
        return newest, int(beyond or 0), latest, int(nulls or 0)  # dates as the server's text (the source's decoders)


def _read_transactions(conn: pymysql.connections.Connection) -> list[tuple] | str:
    """The view's rows, read inside a transaction of our own (the freshness mark), or why it is
    not readable. Transient errors (a lost connection) propagate: the caller's retry handles them."""
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        try:
            cur.execute(_TRX_SQL)
            return list(cur.fetchall())
        except pymysql.err.MySQLError as e:
            code = e.args[0] if e.args and isinstance(e.args[0], int) else None
            if code not in _UNREADABLE:
                raise
            return _UNREADABLE[code]
        finally:
            cur.execute("COMMIT")
