"""MySQL / MariaDB source over pymysql.

One connection per source (a worker thread opens its own), session in UTC (``time_zone = '+00:00'``)
and utf8mb4, autocommit so that every query sees the latest committed rows. That connection
serves discovery, the clock, counts and scan ends; how the rows of a read travel is the fetch
backend's (``sources/fetch.py``, a parameter): ``PyMySQLRows`` (default, an unbuffered cursor on
this connection, ``sources/mysql_rows.py``) or ``ConnectorXArrow`` (``sources/mysql_arrow.py``).

Pages, initial scans and their ends are ordered, bounded and compared by ``sources/keyset.py``
(``mysql_keyset``): positions are JSON-safe there and turned back into parameters MySQL compares
exactly with each column, in the order the column sorts.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

from s3rb_tui.engine.cursors.bounds import is_clock_cursor
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.retry import call_with_retry
from s3rb_tui.engine.core.type_rules import Column, TableSchema, UnsupportedType
from s3rb_tui.engine.sources.base import (
    Estimate, InitialScan, PendingEstimate, Position, Source, SourceBatch, TableInfo,
)
from s3rb_tui.engine.sources.fetch import FetchBackend
from s3rb_tui.engine.sources.keyset import (
    MYSQL_KEYS, check_batch_size, json_safe, mysql_keyset, order_row_position, table_keys,
)
from s3rb_tui.engine.sources.mysql_clock import MySQLClock
from s3rb_tui.engine.sources.mysql_rows import PyMySQLRows, select_columns
from s3rb_tui.engine.core.table_names import TableRef, quote_mysql

if TYPE_CHECKING:
    from s3rb_tui.settings import Settings

_TEMPORAL = ("datetime", "timestamp", "date", "time")
#: An incremental window of at least this share of a table is read as a catch-up scan in primary-key
#: order (the clustered index, every row once, the window's rows kept) instead of keyset pages on the
#: (cursor, key) index (an index entry and a primary-key lookup per row): a first backup read so takes
#: about 30% less server CPU than keyset pages (README, "initial scan"): from 70% of the table on, the
#: whole-table scan costs the server no more than the window's pages. bench/defaults.py, 1M settlement rows behind by the whole table, one run,
#: medians: catch-up client 11.5 s + server 6.9 s of CPU, connectorx alone 13.1 s + 6.4 s.
CATCH_UP_SHARE = 0.7
CATCH_UP_MIN_ROWS = 100_000  # below it either read takes a moment, and the extra count is not worth it
_JSON_CHECK = re.compile(r"json_valid\(\s*`?([^`()\s]+)`?\s*\)", re.IGNORECASE)

# Dates and decimals come through as the server's text (``sources/mysql_rows.py`` says why).
_DECODERS = dict(pymysql.converters.decoders)
for _t in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE, FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL):
    _DECODERS[_t] = pymysql.converters.through
_CONVERSIONS = {**pymysql.converters.encoders, **_DECODERS}

_CONNECT_HINTS = {
    1045: "check DB_USER/DB_PASSWORD",
    1044: "check the grants of DB_USER",
    2003: "check DB_HOST/DB_PORT and that the server is running",
    2005: "check DB_HOST",
    2013: "check DB_HOST/DB_PORT, the network, and BACKUP_TIMEOUT_SECONDS",
}


class MySQLSource(MySQLClock, Source):
    """``log`` (optional, ``log(event, level=..., **fields)``) receives a line for every retry;
    ``fetch``: how reads travel (default ``PyMySQLRows``). ``run``, ``query``, ``render`` and the
    rest of ``fetch.MySQLSession`` are what a fetch backend may use; one lock serialises them, as
    a backend's reader threads share this connection."""

    dialect = "mysql"

    def __init__(self, host: str, port: int, user: str, password: str, timeout: int = 300, retries: int = 0,
                 log: Callable[..., None] | None = None, fetch: FetchBackend | None = None):
        self.host, self.port, self.user = host, port, user
        self.password = password
        self._timeout = timeout
        self.attempts = 1 + max(0, retries)
        self.fetch = fetch or PyMySQLRows()
        if log is not None:
            self.log = log
        self._conn: pymysql.connections.Connection | None = None
        self._lock = threading.RLock()
        self.run("connect to MySQL", lambda conn: None)

    @property
    def extract_path(self) -> str:
        return self.fetch.path

    @property
    def read_connections(self) -> int:
        """Connections a read keeps open at once (the fast path's BACKUP_NUM_CHUNKS, 1 through a tunnel)."""
        return self.fetch.connections

    def __repr__(self) -> str:
        return f"MySQLSource({self.user}@{self.host}:{self.port}, {self.fetch.path})"

    @classmethod
    def from_settings(cls, settings: "Settings", host: str | None = None, port: int | None = None,
                      fetch: FetchBackend | None = None) -> "MySQLSource":
        return cls(
            host=host or settings.str("DB_HOST"),
            port=port or settings.int("DB_PORT"),
            user=settings.str("DB_USER"),
            password=settings.str("DB_PASSWORD"),
            timeout=settings.int("BACKUP_TIMEOUT_SECONDS"),
            retries=settings.int("BACKUP_RETRY_ATTEMPTS"),
            fetch=fetch,
        )

    # --- connection ---------------------------------------------------------------------

    def _open(self) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                # as UTF-8 bytes, as the mariadb client sends what was typed: pymysql encodes a str
                # password as Latin-1 ('pässwort' refused, '€' a UnicodeEncodeError)
                password=self.password.encode("utf-8"),
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=self._timeout,
                read_timeout=self._timeout,
                write_timeout=self._timeout,
                # UTC session; the server waits as long as we do while a streaming read is consumed
                init_command=f"SET time_zone = '+00:00', net_write_timeout = {int(self._timeout)}, "
                             f"net_read_timeout = {int(self._timeout)}",
                conv=_CONVERSIONS,
            )
        except pymysql.err.MySQLError as e:
            e.s3rb_connecting = True
            raise

    def run(self, what: str, fn: Callable[[pymysql.connections.Connection], Any]) -> Any:
        """``fn(connection)``, retried after transient errors (lost connection, deadlock) on a new
        connection; any remaining driver error becomes a one-line JobError."""

        def attempt() -> Any:
            if self._conn is None or not self._conn.open:
                self._conn = self._open()
            return fn(self._conn)

        try:
            with self._lock:
                return call_with_retry(attempt, attempts=self.attempts, what=what, log=getattr(self, "log", None),
                                       on_retry=lambda e: self.close())
        except pymysql.err.MySQLError as e:
            raise self.driver_error(e) from e

    def scrub(self, text: str) -> str:
        """``text`` without the password, as typed or URL-quoted (connectorx's URL)."""
        if not self.password:
            return text
        return text.replace(self.password, "****").replace(quote(self.password, safe=""), "****")

    def driver_error(self, e: Exception) -> JobError:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        detail = str(e.args[1] if len(e.args) > 1 else e) or type(e).__name__
        detail = self.scrub(detail.splitlines()[0])
        if getattr(e, "s3rb_connecting", False):
            return JobError(
                f"cannot connect to MySQL at {self.host}:{self.port} as {self.user}: {detail}",
                _CONNECT_HINTS.get(code or 0, "check DB_HOST, DB_PORT, DB_USER and DB_PASSWORD"),
            )
        return JobError(f"MySQL error at {self.host}:{self.port}: {detail}")

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        def query(conn):
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())

        return self.run("MySQL query", query)

    def render(self, sql: str, params: list[Any]) -> str:
        """The query with its parameters as literals (for a driver without parameter binding),
        escaped by pymysql exactly as they would be sent bound."""
        if not params:
            return sql

        def render(conn) -> str:
            with conn.cursor() as cur:
                return cur.mogrify(sql, params)

        return self.run("MySQL query", render)

    def abandon(self, cur: pymysql.cursors.SSCursor) -> None:
        """Drop the connection under a half-read streaming result: closing the cursor would read
        the rest off the wire (or fail on a dead socket); the next call reconnects."""
        result = getattr(cur, "_result", None)
        if result is not None:
            result.unbuffered_active = False
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already gone: nothing to release
                pass
            self._conn = None

    # --- metadata -----------------------------------------------------------------------

    def version(self) -> str:
        return str(self.query("SELECT VERSION()")[0][0])

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.query("SELECT NOW(6)")[0][0])

    def list_schemas(self) -> list[str]:
        """information_schema.SCHEMATA lists only the schemas this user has a privilege in."""
        rows = self.query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME NOT IN ('information_schema', 'mysql', 'performance_schema', 'sys') ORDER BY SCHEMA_NAME"
        )
        return [str(r[0]) for r in rows]

    def list_tables(self, schema: str) -> list[TableInfo]:
        rows = self.query(
            "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW') ORDER BY TABLE_NAME",
            (schema,),
        )
        out = []
        for name, ttype, nrows, nbytes in rows:
            is_view = ttype == "VIEW"
            out.append(TableInfo(
                ref=TableRef(schema, name),
                is_view=is_view,
                estimated_rows=None if is_view or nrows is None else int(nrows),
                estimated_bytes=None if is_view or nbytes is None else int(nbytes),
            ))
        return out

    def discover(self, ref: TableRef, cursor_override: str | None = None, key_override: tuple[str, ...] | None = None) -> TableSchema:
        table = self.query(
            "SELECT TABLE_TYPE, TABLE_ROWS, CREATE_TIME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (ref.schema, ref.name),
        )
        if not table:
            raise JobError(
                f"table {ref.full_name} not found in MySQL at {self.host}:{self.port}",
                "check the table name and DB_DATABASE (list tables with --run status)",
            )
        is_view = table[0][0] == "VIEW"
        json_columns = self._mariadb_json_columns(ref)
        rows = self.query(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, "
            "DATETIME_PRECISION, CHARACTER_MAXIMUM_LENGTH, COLUMN_DEFAULT, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (ref.schema, ref.name),
        )
        columns = []
        for name, data_type, column_type, nullable, num_prec, num_scale, dt_prec, char_len, default, collation in rows:
            data_type = str(data_type).lower()
            column_type = str(column_type)  # as written: ENUM and SET labels are data (their case too)
            if name in json_columns and data_type in ("longtext", "text", "mediumtext"):
                data_type = "json"
            temporal = data_type in _TEMPORAL
            columns.append(Column(
                name=name,
                data_type=data_type,
                column_type=column_type,
                nullable=nullable == "YES",
                precision=(None if dt_prec is None else int(dt_prec)) if temporal else (None if num_prec is None else int(num_prec)),
                scale=None if num_scale is None else int(num_scale),
                char_length=None if char_len is None else int(char_len),
                unsigned="unsigned" in column_type.lower(), default=default, collation=collation,
            ))
        for c in columns:
            try:
                c.rule  # a type without a rule stops the table before any row is read
            except UnsupportedType as e:
                raise JobError(f"{ref.full_name}: {e}", "exclude the table or cast the column in a view") from None
        primary_key, cursor = table_keys(ref, columns, lambda: tuple(r[0] for r in self.query(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (ref.schema, ref.name),
        )), cursor_override, key_override)
        return TableSchema(
            ref=ref,
            columns=tuple(columns),
            primary_key=primary_key,
            cursor_column=cursor,
            is_view=is_view,
            estimated_rows=None if table[0][1] is None else int(table[0][1]), created=None if table[0][2] is None else str(table[0][2]),
            auto_increment=None if table[0][3] is None else int(table[0][3]),
        )

    def _mariadb_json_columns(self, ref: TableRef) -> set[str]:
        """MariaDB stores JSON as LONGTEXT with a ``CHECK (json_valid(col))`` constraint."""
        try:
            rows = self.query(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
                (ref.schema, ref.name),
            )
        except JobError:  # MySQL < 8.0.16 has no CHECK_CONSTRAINTS (and no MariaDB-style JSON)
            return set()
        out = set()
        for (clause,) in rows:
            m = _JSON_CHECK.fullmatch(str(clause).strip())
            if m:
                out.add(m.group(1))
        return out

    # --- extraction: the fetch backend's, bounded and ordered by the keyset rules ------------

    def read_batches(
        self,
        schema: TableSchema,
        start: Position,
        upper_bound: Any,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[SourceBatch]:
        check_batch_size(batch_size)
        yield from self.fetch.read(self, schema, start, upper_bound, batch_size, limit)

    # --- initial scan: a first full backup in primary-key order --------------------------

    supports_initial_scan = True

    def initial_scan_bound(self, schema: TableSchema, upper_bound: Any) -> Any:
        """A clock cursor keeps the run's bound; a numeric one is bounded by its largest value now
        (rows changed during the scan get larger ones and are the next run's). None: no scan (the
        table has no cursor value yet)."""
        cursor_col = schema.column(schema.cursor_column)  # type: ignore[arg-type]
        if is_clock_cursor(cursor_col):
            return upper_bound
        top = self.query(f"SELECT MAX({quote_mysql(cursor_col.name)}) FROM {schema.ref.mysql()}")[0][0]
        return None if top is None else json_safe(top)

    def catch_up(self, schema: TableSchema, start: Position, upper_bound: Any) -> bool:
        """At least ``CATCH_UP_SHARE`` of the table's rows (InnoDB's estimate) are after ``start``,
        on tables of at least ``CATCH_UP_MIN_ROWS``: the window's row at offset ``enough - 1`` exists
        (an index walk that stops there and sends one row). The probe was a ``COUNT(*)`` over a
        ``LIMIT enough`` subquery, which materialises the rows it counts; the offset probe took the
        server 0.16 s instead of 0.25 s behind by the whole table and 0.08 s instead of 0.12 s at 31%
        (1M settlement rows, 7 alternating runs each, medians). The reason for the share is at
        ``CATCH_UP_SHARE``."""
        rows = schema.estimated_rows or 0
        if rows < CATCH_UP_MIN_ROWS or start.scan is not None or start.is_start:
            return False
        enough = max(1, int(rows * CATCH_UP_SHARE))
        where, params = mysql_keyset(schema).window(start, upper_bound)
        sql = f"SELECT 1 FROM {schema.ref.mysql()} WHERE {where} LIMIT 1 OFFSET {enough - 1}"
        return bool(self.query(sql, params))

    def scan_end(self, schema: TableSchema, scan: InitialScan) -> Position:
        """The keyset position of a finished scan: the largest (cursor, key) up to its bound (one
        backward step on the (cursor, key) index), so the next run goes on as after a keyset read."""
        keyset = mysql_keyset(schema)
        cur = keyset.ref(schema.cursor_column)  # type: ignore[arg-type]
        where, params = f"{cur} IS NOT NULL", []
        bound = keyset.bound(scan.upper_bound, kept=True)
        if bound is not None:
            where += f" AND {cur} <= %s"
            params.append(bound)
        rows = self.query(f"SELECT {select_columns(schema, schema.order_columns)} FROM {schema.ref.mysql()} WHERE {where} "
                          f"ORDER BY {keyset.order_by(descending=True)} LIMIT 1", params)
        return order_row_position(schema, MYSQL_KEYS, rows[0]) if rows else Position(cursor=None, key=None, nulls_done=True)

    # --- counting -----------------------------------------------------------------------

    def count(self, schema: TableSchema, start: Position | None = None, upper_bound: Any = None) -> int:
        return int(self.query(*mysql_keyset(schema).count(schema.ref.mysql(), start, upper_bound))[0][0])

    def estimate(self, schema: TableSchema, start: Position, upper_bound: Any) -> Estimate:
        rows = self.count(schema, start if schema.incremental else None, upper_bound if schema.incremental else None)
        avg = self.query(
            "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema.ref.schema, schema.ref.name),
        )
        avg_len = avg[0][0] if avg and avg[0][0] is not None else None
        return Estimate(rows=rows, bytes=None if avg_len is None else int(avg_len) * rows, exact=True)

    def estimate_beside(self, schema: TableSchema, start: Position, upper_bound: Any) -> PendingEstimate:
        """The exact count on a connection of its own, in a daemon thread, while the extraction
        starts: a first backup's count walks a whole index (0.4 s of server time per million
        settlement rows) and would otherwise come before the first read. ``stop()`` kills it."""
        future: Future = Future()
        running: dict[str, int] = {}

        def count() -> None:
            other = None
            try:
                other = self._sibling()
                running["thread_id"] = other.run("MySQL query", lambda conn: conn.thread_id())
                future.set_result(other.estimate(schema, start, upper_bound))
            except BaseException as e:  # handed to whoever asks for the estimate
                future.set_exception(e)
            finally:
                if other is not None:
                    other.close()

        def stop() -> None:
            if future.done() or "thread_id" not in running:
                return
            try:  # on a connection of its own: this one may be in use by the extraction's threads
                with self._sibling() as killer:
                    killer.query(f"KILL QUERY {int(running['thread_id'])}")
            except JobError:
                pass  # best effort: the count ends on its own

        threading.Thread(target=count, name="s3rb-count", daemon=True).start()
        return PendingEstimate(future, stop)

    def _sibling(self) -> "MySQLSource":
        """A new pymysql connection to the same server (through the same tunnel), same settings."""
        return MySQLSource(self.host, self.port, self.user, self.password, timeout=self._timeout,
                           retries=self.attempts - 1, log=self.log)

    def distinct_keys(self, schema: TableSchema) -> int | None:
        if not schema.primary_key:
            return None
        keys = ", ".join(quote_mysql(k) for k in schema.primary_key)
        return int(self.query(f"SELECT COUNT(DISTINCT {keys}) FROM {schema.ref.mysql()}")[0][0])

