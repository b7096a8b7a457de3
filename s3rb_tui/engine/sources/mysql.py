"""MySQL / MariaDB source over pymysql.

One connection per source (a worker thread opens its own), session in UTC (``time_zone = '+00:00'``)
and utf8mb4, autocommit so that every query sees the latest committed rows. Rows stream from the
server through an unbuffered cursor (``SSCursor``): memory is bounded by one batch.

Pages, initial scans and their ends are ordered and compared by ``sources/keyset.py``
(``mysql_keyset``): positions are JSON-safe there and turned back into parameters MySQL compares
exactly with each column, in the order the column sorts.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

from s3rb_tui.engine.bounds import cursor_bound
from s3rb_tui.engine.errors import JobError
from s3rb_tui.engine.retry import call_with_retry
from s3rb_tui.engine.schema import Column, ConversionStats, TableSchema, UnsupportedType, detect_cursor, rows_to_batch
from s3rb_tui.engine.sources.base import (
    Estimate, InitialScan, PendingEstimate, Position, Source, SourceBatch, TableInfo, empty_batch,
)
from s3rb_tui.engine.sources.keyset import cursor_value, json_safe, mysql_keyset, mysql_param, order_row_position, row_position
from s3rb_tui.engine.sources.mysql_clock import MySQLClock
from s3rb_tui.engine.tables import TableRef, quote_mysql

if TYPE_CHECKING:
    from s3rb_tui.settings import Settings

_TEMPORAL = ("datetime", "timestamp", "date", "time")
_CLOCK_CURSORS = ("datetime", "timestamp", "date")
_JSON_CHECK = re.compile(r"json_valid\(\s*`?([^`()\s]+)`?\s*\)", re.IGNORECASE)

# Dates and decimals come through as the server's text: the type rules parse whole columns in
# Arrow (C) instead of pymysql building one Python object per value, and cursor values are
# already in their JSON form ('YYYY-MM-DD HH:MM:SS[.ffffff]').
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


def select_columns(schema: TableSchema, names: "list[str] | tuple[str, ...]") -> str:
    """The SELECT list of ``names``, each through its type rule's expression."""
    return ", ".join(schema.column(k).rule.select_expr(schema.column(k)) for k in names)


class MySQLSource(MySQLClock, Source):
    """``log`` (optional, ``log(event, level=..., **fields)``) receives a line for every retry."""

    dialect = "mysql"

    def __init__(self, host: str, port: int, user: str, password: str, timeout: int = 300, retries: int = 0,
                 log: Callable[..., None] | None = None):
        self.host, self.port, self.user = host, port, user
        self._password = password
        self._timeout = timeout
        self._attempts = 1 + max(0, retries)
        if log is not None:
            self.log = log
        self._conn: pymysql.connections.Connection | None = None
        self._run("connect to MySQL", lambda conn: None)

    @classmethod
    def from_settings(cls, settings: "Settings", host: str | None = None, port: int | None = None, **extra: Any) -> "MySQLSource":
        """``extra``: a subclass's own options (the fast source's ``parallel`` and ``tunnel``)."""
        return cls(
            host=host or settings.str("DB_HOST"),
            port=port or settings.int("DB_PORT"),
            user=settings.str("DB_USER"),
            password=settings.str("DB_PASSWORD"),
            timeout=settings.int("BACKUP_TIMEOUT_SECONDS"),
            retries=settings.int("BACKUP_RETRY_ATTEMPTS"),
            **extra,
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
                password=self._password.encode("utf-8"),
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
            e.s3rb_connecting = True  # type: ignore[attr-defined]
            raise

    def _run(self, what: str, fn: Callable[[pymysql.connections.Connection], Any]) -> Any:
        """``fn(connection)``, retried after transient errors (lost connection, deadlock) on a new
        connection; any remaining driver error becomes a one-line JobError."""

        def attempt() -> Any:
            if self._conn is None or not self._conn.open:
                self._conn = self._open()
            return fn(self._conn)

        try:
            return call_with_retry(attempt, attempts=self._attempts, what=what, log=getattr(self, "log", None), on_retry=lambda e: self.close())
        except pymysql.err.MySQLError as e:
            raise self._error(e) from e

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "****") if self._password else text

    def _error(self, e: Exception) -> JobError:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        detail = str(e.args[1] if len(e.args) > 1 else e) or type(e).__name__
        detail = self._scrub(detail.splitlines()[0])
        if getattr(e, "s3rb_connecting", False):
            return JobError(
                f"cannot connect to MySQL at {self.host}:{self.port} as {self.user}: {detail}",
                _CONNECT_HINTS.get(code, "check DB_HOST, DB_PORT, DB_USER and DB_PASSWORD"),
            )
        return JobError(f"MySQL error at {self.host}:{self.port}: {detail}")

    def _query(self, sql: str, params: Any = None) -> list[tuple]:
        def query(conn):
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())

        return self._run("MySQL query", query)

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple]:
        """One keyset batch through an unbuffered cursor (its LIMIT bounds the rows held)."""

        def fetch(conn):
            cur = conn.cursor(pymysql.cursors.SSCursor)
            try:
                cur.execute(sql, params)
                rows = list(cur.fetchall())
            except BaseException:
                self._abandon(cur)
                raise
            cur.close()
            return rows

        return self._run("MySQL batch read", fetch)

    def _abandon(self, cur: pymysql.cursors.SSCursor) -> None:
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
        return str(self._query("SELECT VERSION()")[0][0])

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self._query("SELECT NOW(6)")[0][0])

    def list_schemas(self) -> list[str]:
        """information_schema.SCHEMATA lists only the schemas this user has a privilege in."""
        rows = self._query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME NOT IN ('information_schema', 'mysql', 'performance_schema', 'sys') ORDER BY SCHEMA_NAME"
        )
        return [str(r[0]) for r in rows]

    def list_tables(self, schema: str) -> list[TableInfo]:
        rows = self._query(
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
        table = self._query(
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
        rows = self._query(
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
        names = {c.name.lower(): c.name for c in columns}
        if key_override:
            missing = [k for k in key_override if k.lower() not in names]
            if missing:
                raise JobError(f"key column(s) {', '.join(missing)} from s3rb.toml are not columns of {ref.full_name}")
            primary_key = tuple(names[k.lower()] for k in key_override)
        else:
            primary_key = tuple(r[0] for r in self._query(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                (ref.schema, ref.name),
            ))
        try:
            cursor = detect_cursor(columns, cursor_override)
        except UnsupportedType as e:
            raise JobError(f"{ref.full_name}: {e}") from None
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
            rows = self._query(
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

    # --- extraction ---------------------------------------------------------------------

    def _select_list(self, schema: TableSchema) -> str:
        return select_columns(schema, schema.column_names)

    def _predicate(self, schema: TableSchema, start: Position, upper_bound: Any) -> tuple[str, list[Any]]:
        """Rows after ``start`` up to ``upper_bound``: a keyset position, or an initial scan's key
        (whose own bound then replaces ``upper_bound``)."""
        if start.scan is not None:
            return self._scan_predicate(schema, start.scan.after_key, start.scan.upper_bound)
        cursor_col = schema.column(schema.cursor_column)  # type: ignore[arg-type]
        return mysql_keyset(schema).after(start, cursor_bound(cursor_col, upper_bound))

    # --- initial scan: a first full backup in primary-key order --------------------------

    supports_initial_scan = True

    def initial_scan_bound(self, schema: TableSchema, upper_bound: Any) -> Any:
        """A clock cursor keeps the run's bound; a numeric one is bounded by its largest value now
        (rows changed during the scan get larger ones and are the next run's). None: no scan (the
        table has no cursor value yet)."""
        cursor_col = schema.column(schema.cursor_column)  # type: ignore[arg-type]
        if cursor_col.data_type in _CLOCK_CURSORS:
            return upper_bound
        top = self._query(f"SELECT MAX({quote_mysql(cursor_col.name)}) FROM {schema.ref.mysql()}")[0][0]
        return None if top is None else json_safe(top)

    def _scan_predicate(self, schema: TableSchema, after_key: tuple[Any, ...] | None, upper_bound: Any) -> tuple[str, list[Any]]:
        cursor_col = schema.column(schema.cursor_column)  # type: ignore[arg-type]
        return mysql_keyset(schema).scan_after(after_key, cursor_bound(cursor_col, mysql_param(cursor_col, upper_bound)))

    def scan_end(self, schema: TableSchema, scan: InitialScan) -> Position:
        """The keyset position of a finished scan: the largest (cursor, key) up to its bound (one
        backward step on the (cursor, key) index), so the next run goes on as after a keyset read."""
        cursor_col = schema.column(schema.cursor_column)  # type: ignore[arg-type]
        keyset = mysql_keyset(schema)
        select = select_columns(schema, schema.order_columns)
        cur = keyset.ref(cursor_col.name)
        where, params = f"{cur} IS NOT NULL", []
        bound = cursor_bound(cursor_col, mysql_param(cursor_col, scan.upper_bound))
        if bound is not None:
            where += f" AND {cur} <= %s"
            params.append(bound)
        rows = self._query(f"SELECT {select} FROM {schema.ref.mysql()} WHERE {where} "
                           f"ORDER BY {keyset.order_by(descending=True)} LIMIT 1", params)
        return order_row_position(schema, rows[0]) if rows else Position(cursor=None, key=None, nulls_done=True)

    def read_batches(
        self,
        schema: TableSchema,
        start: Position,
        upper_bound: Any,
        batch_size: int,
        limit: int | None = None,
    ) -> Iterator[SourceBatch]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if schema.incremental and start.scan is not None:
            yield from self._read_scan(schema, start.scan, batch_size, limit)
        elif schema.incremental:
            yield from self._read_keyset(schema, start, upper_bound, batch_size, limit)
        else:
            yield from self._read_snapshot(schema, batch_size, limit)

    def _read_keyset(self, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        names = schema.column_names
        cursor_i = names.index(schema.cursor_column)  # type: ignore[arg-type]
        key_i = [names.index(k) for k in schema.order_columns[1:]]
        select = f"SELECT {self._select_list(schema)} FROM {schema.ref.mysql()}"
        order = mysql_keyset(schema).order_by()
        position, taken = start, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            where, params = self._predicate(schema, position, upper_bound)
            rows = self._fetch(f"{select} WHERE {where} ORDER BY {order} LIMIT {int(n)}", params)
            if not rows:
                return
            position = row_position(schema, rows[-1], cursor_i, key_i)
            nulls = sum(1 for r in rows if r[cursor_i] is None)
            taken += len(rows)
            yield self._batch(schema, rows, position, nulls)
            if len(rows) < n:
                return

    def _read_scan(self, schema: TableSchema, scan: InitialScan, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        """Pages of an initial scan in primary-key order; the last one ends at the keyset position
        of the whole scan (an empty batch carries it when the last page was full)."""
        names = schema.column_names
        cursor_i = names.index(schema.cursor_column)  # type: ignore[arg-type]
        key_i = [names.index(k) for k in schema.primary_key]
        select = f"SELECT {self._select_list(schema)} FROM {schema.ref.mysql()}"
        order = mysql_keyset(schema).key_order_by()
        after, taken = scan.after_key, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            where, params = self._scan_predicate(schema, after, scan.upper_bound)
            rows = self._fetch(f"{select} WHERE {where} ORDER BY {order} LIMIT {int(n)}", params)
            if rows:
                after = tuple(json_safe(rows[-1][i]) for i in key_i)
            done = len(rows) < n
            end = self.scan_end(schema, scan) if done else Position(scan=InitialScan(scan.upper_bound, after))
            nulls = sum(1 for r in rows if r[cursor_i] is None)
            taken += len(rows)
            yield self._batch(schema, rows, end, nulls) if rows else empty_batch(schema, end)
            if done:
                return

    def _read_snapshot(self, schema: TableSchema, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        sql = f"SELECT {self._select_list(schema)} FROM {schema.ref.mysql()}"
        if schema.primary_key:
            sql += f" ORDER BY {mysql_keyset(schema).key_order_by()}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor_i = schema.column_names.index(schema.cursor_column) if schema.cursor_column else None
        latest: Any = None

        def start(conn):
            cur = conn.cursor(pymysql.cursors.SSCursor)
            try:
                cur.execute(sql)
            except BaseException:
                self._abandon(cur)
                raise
            return cur

        cur = self._run("MySQL snapshot read", start)  # retried: nothing has been read yet
        finished = False
        try:
            while True:
                try:
                    rows = cur.fetchmany(batch_size)
                except pymysql.err.MySQLError as e:
                    raise self._error(e) from e
                if not rows:
                    finished = True
                    return
                if cursor_i is not None:
                    latest = _latest(latest, (r[cursor_i] for r in rows))
                end = Position(cursor=cursor_value(schema.columns[cursor_i], latest) if cursor_i is not None else None,
                               key=None, nulls_done=True)
                yield self._batch(schema, rows, end, 0)
        finally:
            if finished:
                cur.close()
            else:
                self._abandon(cur)  # stopped early (limit, cancel, error): end the query at once

    def _batch(self, schema: TableSchema, rows: list[tuple], end: Position, nulls: int) -> SourceBatch:
        stats = ConversionStats()
        columns = [list(col) for col in zip(*rows)]
        return SourceBatch(batch=rows_to_batch(schema, columns, stats), end=end, null_cursor_rows=nulls, stats=stats)

    # --- counting -----------------------------------------------------------------------

    def count(self, schema: TableSchema, start: Position | None = None, upper_bound: Any = None) -> int:
        sql = f"SELECT COUNT(*) FROM {schema.ref.mysql()}"
        params: list[Any] = []
        if schema.incremental and (start is not None or upper_bound is not None):
            where, params = self._predicate(schema, start or Position(), upper_bound)
            sql += f" WHERE {where}"
        return int(self._query(sql, params)[0][0])

    def estimate(self, schema: TableSchema, start: Position, upper_bound: Any) -> Estimate:
        rows = self.count(schema, start if schema.incremental else None, upper_bound if schema.incremental else None)
        avg = self._query(
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
                running["thread_id"] = other._run("MySQL query", lambda conn: conn.thread_id())
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
                    killer._query(f"KILL QUERY {int(running['thread_id'])}")
            except JobError:
                pass  # best effort: the count ends on its own

        threading.Thread(target=count, name="s3rb-count", daemon=True).start()
        return PendingEstimate(future, stop)

    def _sibling(self) -> "MySQLSource":
        """A new pymysql connection to the same server (through the same tunnel), same settings."""
        return MySQLSource(self.host, self.port, self.user, self._password, timeout=self._timeout,
                           retries=self._attempts - 1, log=self.log)

    def distinct_keys(self, schema: TableSchema) -> int | None:
        if not schema.primary_key:
            return None
        keys = ", ".join(quote_mysql(k) for k in schema.primary_key)
        return int(self._query(f"SELECT COUNT(DISTINCT {keys}) FROM {schema.ref.mysql()}")[0][0])


def _latest(current: Any, values: Iterator[Any]) -> Any:
    """Largest cursor value seen: date text compares in order (one format per column), ints too."""
    for v in values:
        if v is not None and (current is None or (type(v) is type(current) and v > current)):
            current = v
    return current
