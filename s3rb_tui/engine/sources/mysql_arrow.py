"""The connectorx fetch backend: the server's rows decoded in Rust straight into Arrow.

``ConnectorXArrow`` is a fetch backend of ``MySQLSource`` (``sources/fetch.py``): the source keeps
discovery, the clock, counts and its pymysql connection, and the keyset rules
(``sources/keyset.py``) say which rows each query takes; this reader has connectorx run them:

- Incremental tables are read in keyset pages (``WHERE`` after the last position ``ORDER BY``
  cursor, key ``LIMIT n``: the server walks the (cursor, key) index) of ``rows_per_query`` rows
  (BACKUP_QUERY_ROWS), each page sliced into batches of BACKUP_BATCH_SIZE rows (one Parquet file
  each, the manual's meaning), every batch ending at the position after its own last row: a
  position the backup can commit, exactly as on the pymysql path. Rows per query and rows per file
  are separate because their costs are: a query costs the client a connection, a result and a
  conversion call per column, a file its encoding, upload and watermark commit. bench/defaults.py,
  1M settlement rows, 4 connections, client CPU median of 3 in one run: files of 10,000 rows read
  10,000 a query 15.0 s, read 50,000 a query 13.8 s (files of 50,000 read 50,000 a query: 12.7 s).
  Memory grows with the query: about (``parallel`` + 2) queries' rows are held (peak RSS 216 ->
  371 MiB), so the default stays at 50,000 rather than 100,000 (12.3 s, 417 MiB with 2 connections).
- With ``parallel`` > 1 (BACKUP_NUM_CHUNKS) the window is cut into stripes of one query's
  rows: stripe bounds come from ``LIMIT 1 OFFSET n-1`` queries on the index (one row
  each), ``parallel`` connections read the next stripes while the caller writes the current one,
  and batches are yielded in keyset order, so per-batch watermark commits stay valid.
- With one connection, a reader thread fetches and converts the next page while the caller
  encodes and uploads the previous one. Memory is bounded by ``parallel`` + 2 batches
  (``sources/read_ahead.py``).
- How each column travels and is converted back to its rule's exact Arrow type is
  ``sources/arrow_transport.py``'s.
- Snapshot tables (no cursor column or no key) are one streamed query, dates as text.

connectorx takes a URL with the password in it: it is built here, never logged, and scrubbed
from every error message (``MySQLSource.scrub``).
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pyarrow as pa
import pymysql

from s3rb_tui.engine.core.batch_sizes import QUERY_ROWS  # BACKUP_QUERY_ROWS
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.retry import call_with_retry
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.sources.arrow_transport import ColumnsRead, Transport
from s3rb_tui.engine.sources.base import InitialScan, Position, SourceBatch, empty_batch
from s3rb_tui.engine.sources.fetch import FetchBackend, MySQLSession
from s3rb_tui.engine.sources.keyset import INTEGER_TYPES, MYSQL_KEYS, json_safe, mysql_keyset, order_row_position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_rows import PyMySQLRows, select_columns
from s3rb_tui.engine.sources.read_ahead import exact_batches, ordered_stripes, read_ahead
from s3rb_tui.engine.core.memory import release_freed_memory
from s3rb_tui.engine.core.table_names import quote_mysql

EXTRACT_PATH = "connectorx"


def rows_per_query(file_rows: int, query_rows: int) -> int:
    """The rows one keyset query reads: the largest multiple of ``file_rows`` (BACKUP_BATCH_SIZE,
    the rows of each Parquet file) not above ``query_rows`` (BACKUP_QUERY_ROWS), at least one file's,
    so that every file but the window's last holds exactly ``file_rows`` rows."""
    return max(1, query_rows // file_rows) * file_rows
_SESSION = "SET time_zone = '+00:00'"  # as the pymysql source: TIMESTAMP values in UTC


def connectorx_available() -> bool:
    try:
        import connectorx  # noqa: F401
    except ImportError:
        return False
    return True


def connectorx_source(host: str, port: int, user: str, password: str, parallel: int = 1, tunnel: bool = False,
                      query_rows: int = QUERY_ROWS, **options: Any) -> MySQLSource:
    """A ``MySQLSource`` whose reads go through connectorx (``options``: the source's own)."""
    return MySQLSource(host, port, user, password, fetch=ConnectorXArrow(parallel, tunnel, query_rows), **options)


def _url(session: MySQLSession, database: str) -> str:
    auth = quote(session.user, safe="") + (":" + quote(session.password, safe="") if session.password else "")
    return f"mysql://{auth}@{session.host}:{session.port}/{quote(database, safe='')}"


class ConnectorXArrow(FetchBackend):
    path = EXTRACT_PATH

    def __init__(self, parallel: int = 1, tunnel: bool = False, query_rows: int = QUERY_ROWS):
        """``parallel``: connections reading consecutive keyset stripes at once (BACKUP_NUM_CHUNKS).
        ``tunnel``: the server is reached through this process's SSH tunnel, whose forwarder threads
        share the GIL with connectorx. Its streaming reader holds the GIL while it connects (the
        forwarder could not answer), whole-page reads release it: through a tunnel, pages are read
        one at a time on one connection, when the caller asks for them (a dropped session costs no
        read-ahead), and snapshot tables (one streamed query) take the pymysql reader."""
        self.tunnel = tunnel
        self.parallel = 1 if tunnel else max(1, int(parallel))
        self.connections = self.parallel
        self.query_rows = max(1, int(query_rows))

    def read(self, session: MySQLSession, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int,
             limit: int | None) -> Iterator[SourceBatch]:
        return _Reader(session, self.parallel, batch_size).read(schema, start, upper_bound, self.rows_per_query(batch_size),
                                                                limit, self.tunnel)

    def rows_per_query(self, file_rows: int) -> int:
        return rows_per_query(file_rows, self.query_rows)


class _Reader:
    """One ``read`` of the connectorx backend, over its source's session. ``batch_size`` below is
    the rows of one query (``rows_per_query``); ``file_rows`` the rows of each batch yielded."""

    def __init__(self, session: MySQLSession, parallel: int, file_rows: int):
        self.session, self.parallel, self.file_rows = session, parallel, file_rows

    def read(self, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int, limit: int | None,
             tunnel: bool) -> Iterator[SourceBatch]:
        read = ColumnsRead.of(schema)
        if schema.incremental and start.scan is not None:
            yield from self._read_scan(read, start.scan, batch_size, limit, tunnel)
        elif tunnel:
            if schema.incremental:
                yield from self._pages(read, start, None, upper_bound, batch_size, limit)
            else:
                yield from PyMySQLRows().read(self.session, schema, start, upper_bound, self.file_rows, limit)
        elif not schema.incremental:
            yield from self._read_snapshot_stream(read, batch_size, limit)
        elif self.parallel > 1 and limit is None:
            yield from self._read_stripes(read, start, upper_bound, batch_size)
        else:
            pages = lambda: self._pages(read, start, None, upper_bound, batch_size, limit)  # noqa: E731
            yield from read_ahead(pages, on_abandon=lambda: None)

    def _select(self, schema: TableSchema, transports: list[Transport], tag: str = "") -> str:
        return f"SELECT {f'/* {tag} */ ' if tag else ''}{', '.join(t.select for t in transports)} FROM {schema.ref.mysql()}"

    def _pages(self, read: ColumnsRead, after: Position, through: Position | None, upper_bound: Any, batch_size: int,
               limit: int | None = None) -> Iterator[SourceBatch]:
        """Keyset pages of ``batch_size`` rows after ``after`` (through ``through``, if given), one
        ``ORDER BY .. LIMIT`` query each: with a LIMIT the server walks the (cursor, key) index
        instead of sorting the whole window."""
        taken = 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            page = self._page(read, after, through, upper_bound, n)
            if not page:
                return
            yield from page
            rows = sum(sb.batch.num_rows for sb in page)
            taken += rows
            after = page[-1].end
            if rows < n or after == through:
                return

    def _page(self, read: ColumnsRead, after: Position, through: Position | None, upper_bound: Any, n: int) -> list[SourceBatch]:
        return self._read_page(read, lambda transports: self._range_sql(read.schema, transports, after, through, upper_bound, n))

    def _read_page(self, read: ColumnsRead, sql_for: Callable[[list[Transport]], str], scan: InitialScan | None = None) -> list[SourceBatch]:
        """One bounded query (``sql_for`` the columns' transports) as converted batches of
        ``file_rows`` rows, each ending at the position after its own last row (none when it found
        no rows). ``scan``: the batches end at their last primary key in that scan."""
        transports = read.transports
        try:
            table = self._read_all(read.schema.ref.schema, sql_for(transports))
        except _UndecodableDate:
            if transports is read.text:
                raise
            read.use_text = True  # a zero or invalid date: this page and the next ones as text
            transports = read.text
            table = self._read_all(read.schema.ref.schema, sql_for(transports))
        if table.num_rows == 0:
            return []
        batches = table.to_batches()
        page = read.converter.batches(batches[0] if len(batches) == 1 else pa.concat_batches(batches), transports, scan, self.file_rows)
        del table, batches
        release_freed_memory()
        return page

    def _range_sql(self, schema: TableSchema, transports: list[Transport], after: Position, through: Position | None,
                   upper_bound: Any, limit: int) -> str:
        keyset = mysql_keyset(schema)
        where, params = keyset.window(after, upper_bound)
        if through is not None:
            beyond, more = keyset.window(through, None)
            # rows after ``through`` excluded; COALESCE: a NULL cursor sorts first, never beyond
            where = f"{where} AND NOT COALESCE(({beyond}), FALSE)"
            params = params + more
        sql = f"{self._select(schema, transports)} WHERE {where} ORDER BY {keyset.order_by()} LIMIT {int(limit)}"
        return self.session.render(sql, params)

    # --- initial scan: a first full backup in primary-key order --------------------------

    def _read_scan(self, read: ColumnsRead, scan: InitialScan, batch_size: int, limit: int | None,
                   tunnel: bool) -> Iterator[SourceBatch]:
        """Pages in primary-key order from the scan's key: through a tunnel one at a time, else in
        stripes read in parallel or a page ahead. The last batch carries the finished scan's position."""
        if tunnel:
            yield from self._scan_pages(read, scan, scan.after_key, None, batch_size, limit, finish=True)
        elif self.parallel > 1 and limit is None:
            yield from self._scan_stripes(read, scan, batch_size)
        else:
            pages = lambda: self._scan_pages(read, scan, scan.after_key, None, batch_size, limit, finish=True)  # noqa: E731
            yield from read_ahead(pages, on_abandon=lambda: None)

    def _scan_pages(self, read: ColumnsRead, scan: InitialScan, after: tuple | None, through: tuple | None, batch_size: int,
                    limit: int | None = None, finish: bool = False) -> Iterator[SourceBatch]:
        """Pages of ``batch_size`` rows with keys after ``after`` through ``through`` (open when
        None). ``finish``: the range is the rest of the scan, so its last page ends at the scan's
        keyset position (an empty batch carries it when the last page was full)."""
        schema, taken = read.schema, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            page = self._read_page(read, partial(self._scan_sql, schema, scan=scan, after=after, through=through, limit=n), scan)
            rows = sum(sb.batch.num_rows for sb in page)
            if page:
                after = page[-1].end.scan.after_key  # type: ignore[union-attr]
            taken += rows
            done = rows < n or (through is not None and after == through)
            if done and finish:
                end = self.session.scan_end(schema, scan)
                yield from page[:-1]
                yield replace(page[-1], end=end) if page else empty_batch(schema, end)
            else:
                yield from page
            if done:
                return

    def _scan_sql(self, schema: TableSchema, transports: list[Transport], *, scan: InitialScan, after: tuple | None,
                  through: tuple | None, limit: int) -> str:
        keyset = mysql_keyset(schema)
        where, params = keyset.scan_window(after, scan.upper_bound, scan.since)
        if through is not None:
            beyond, more = keyset.key_after(schema.primary_key, through)
            where, params = f"{where} AND NOT {beyond}", params + more
        sql = f"{self._select(schema, transports)} WHERE {where} ORDER BY {keyset.key_order_by()} LIMIT {int(limit)}"
        return self.session.render(sql, params)

    def _scan_bounds(self, schema: TableSchema, after: tuple | None, batch_size: int) -> Iterator[tuple]:
        """The key of every ``batch_size``-th row after ``after`` in primary-key order, one at a
        time (``LIMIT 1 OFFSET n`` on the clustered index, one row sent each). Rows past the
        scan's bound count too, so a stripe holds at most ``batch_size`` rows of the scan."""
        keys, keyset = list(schema.primary_key), mysql_keyset(schema)
        return self._every_nth_row(
            schema, keys, after, batch_size, keyset.key_order_by(),
            where_after=lambda a: ("1 = 1", []) if a is None else keyset.key_after(keys, a),
            position=lambda row: tuple(json_safe(v) for v in row),
        )

    def _scan_stripes(self, read: ColumnsRead, scan: InitialScan, batch_size: int) -> Iterator[SourceBatch]:
        """Stripes of ``batch_size`` keys read in parallel and yielded in key order, then an empty
        batch that carries the finished scan's keyset position."""
        def read_stripe(after: tuple | None, through: tuple | None) -> list[SourceBatch]:
            return list(self._scan_pages(read, scan, after, through, batch_size))

        bounds = self._scan_bounds_by_value(read.schema, scan.after_key, batch_size)
        if bounds is None:
            bounds = self._scan_bounds(read.schema, scan.after_key, batch_size)
        yield from ordered_stripes(self.parallel, bounds, scan.after_key, read_stripe)
        yield empty_batch(read.schema, self.session.scan_end(read.schema, scan))

    def _scan_bounds_by_value(self, schema: TableSchema, after: tuple | None, batch_size: int) -> Iterator[tuple] | None:
        """Stripe bounds of a single integer key by arithmetic from its smallest and largest values
        (two index ends) instead of ``LIMIT 1 OFFSET n`` walks, which read every row of the table
        once more on the server (0.75 s of server CPU per million settlement rows). Each stripe is
        ``batch_size`` key values wide, or wider where the table statistics say keys are sparse, so
        that a stripe holds about ``batch_size`` rows; a denser stretch is read in several pages.
        None: not a single integer key (the walks are used)."""
        if len(schema.primary_key) != 1 or schema.column(schema.primary_key[0]).data_type not in INTEGER_TYPES:
            return None
        key = quote_mysql(schema.primary_key[0])
        where, params = ("", []) if after is None else (f" WHERE {key} > %s", [int(after[0])])
        lo, hi = self.session.query(f"SELECT MIN({key}), MAX({key}) FROM {schema.ref.mysql()}{where}", params)[0]
        stats = self.session.query("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                                   (schema.ref.schema, schema.ref.name))
        rows = int(stats[0][0] or 0) if stats else 0  # InnoDB's estimate: often 5-10% off
        span = 0 if lo is None else int(hi) - int(lo) + 1  # none: nothing after ``after``, one open stripe
        # A stripe never holds more rows than it has key values: dense keys get stripes of
        # ``batch_size`` values; keys the statistics call sparse (under half dense) wider ones.
        width = batch_size if rows * 2 >= span else (-(-batch_size * span // rows) if rows else span)

        def bounds() -> Iterator[tuple]:  # a generator even when empty: the stripes close it
            if lo is None:
                return
            bound = int(lo) - 1 + width
            while bound < int(hi):
                yield (bound,)
                bound += width

        return bounds()

    def _read_snapshot_stream(self, read: ColumnsRead, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        """A table without cursor column or key: one streaming query (dates as text: a stream
        cannot be re-read), converted a batch ahead."""
        schema, transports = read.schema, read.text
        tag = f"s3rb-{uuid.uuid4().hex}"
        sql = self._select(schema, transports, tag)
        if schema.primary_key:
            sql += f" ORDER BY {mysql_keyset(schema).key_order_by()}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"

        def produce() -> Iterator[SourceBatch]:
            for raw in exact_batches(self._stream(schema.ref.schema, sql, batch_size), batch_size):
                page = read.converter.batches(raw, transports, None, self.file_rows)
                del raw
                release_freed_memory()
                yield from page

        yield from read_ahead(produce, on_abandon=lambda: self._kill_tagged(tag))

    # --- stripes: consecutive keyset ranges read in parallel, yielded in order -----------

    def _stripe_bounds(self, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int) -> Iterator[Position]:
        """The position after every ``batch_size``-th row of the window, one at a time: each is one
        ``LIMIT 1 OFFSET n`` query that walks the (cursor, key) index on the server and sends one row."""
        keyset = mysql_keyset(schema)
        return self._every_nth_row(
            schema, list(schema.order_columns), start, batch_size, keyset.order_by(),
            where_after=lambda a: keyset.window(a, upper_bound),
            position=lambda row: order_row_position(schema, MYSQL_KEYS, row),
        )

    def _every_nth_row(self, schema: TableSchema, columns: list[str], start: Any, n: int, order: str,
                       where_after: Callable[[Any], tuple[str, list[Any]]], position: Callable[[tuple], Any]) -> Iterator[Any]:
        """The position of every ``n``-th row in ``order`` after ``start``: one ``LIMIT 1 OFFSET n-1``
        query each (the server walks an index and sends one row), lazily, as stripes are needed."""
        select = select_columns(schema, columns)
        after = start
        while True:
            where, params = where_after(after)
            sql = f"SELECT {select} FROM {schema.ref.mysql()} WHERE {where} ORDER BY {order} LIMIT 1 OFFSET {int(n) - 1}"
            rows = self.session.query(sql, params)
            if not rows:
                return
            after = position(rows[0])
            yield after

    def _read_stripes(self, read: ColumnsRead, start: Position, upper_bound: Any, batch_size: int) -> Iterator[SourceBatch]:
        """Stripe i holds the rows after bound i-1 through bound i (the last one is open).
        ``self.parallel`` connections read the next stripes while the caller writes the current
        one: at most ``parallel`` + 1 stripes are held at any time."""
        def read_stripe(after: Position, through: Position | None) -> list[SourceBatch]:
            return list(self._pages(read, after, through, upper_bound, batch_size))

        yield from ordered_stripes(self.parallel, self._stripe_bounds(read.schema, start, upper_bound, batch_size), start, read_stripe)

    def _stream(self, database: str, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The result in record batches of ``batch_size`` rows, streamed from the server."""
        import connectorx as cx

        with self._driver_errors():
            reader = cx.read_sql(_url(self.session, database), sql, return_type="arrow_stream", batch_size=batch_size,
                                 pre_execution_query=[_SESSION])
            for rb in reader:
                if rb.num_rows:
                    yield rb

    def _read_all(self, database: str, sql: str) -> pa.Table:
        """A whole (bounded) result as one Arrow table; retried on a new connection after a
        transient error (a lost connection, a deadlock), as the pymysql source retries a batch."""
        import connectorx as cx

        def attempt() -> pa.Table:
            with self._driver_errors():
                return cx.read_sql(_url(self.session, database), sql, return_type="arrow", pre_execution_query=[_SESSION])

        return call_with_retry(attempt, attempts=self.session.attempts, what="MySQL batch read (connectorx)", log=self.session.log)

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """connectorx's errors as one-line JobErrors without the password, caused by the driver error
        they stand for (retries judge them as they judge pymysql's)."""
        try:
            yield
        except BaseException as e:  # RuntimeError, or pyo3's PanicException (a BaseException)
            if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            text = str(e).strip()
            detail = self.session.scrub(text.splitlines()[0] if text else type(e).__name__)
            if _UNDECODABLE_DATE.search(text):
                raise _UndecodableDate(detail) from None
            raise JobError(f"MySQL error at {self.session.host}:{self.session.port} (connectorx): {detail}",
                           "retry with --extract-engine pymysql (EXTRACT_ENGINE=pymysql) if it persists") from _cause(text)

    def _kill_tagged(self, tag: str) -> None:
        """Stop the streaming query of an abandoned read (cancel, error downstream): the driver
        would otherwise read the rest of the result off the wire before letting go."""
        try:
            rows = self.session.query(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{tag}%",),
            )
            for (pid,) in rows:
                self.session.query(f"KILL QUERY {int(pid)}")
        except JobError:
            pass  # best effort: the query ends on its own


_UNDECODABLE_DATE = re.compile(r"Couldn't convert the value `(Date|Time)\(")


class _UndecodableDate(JobError):
    """connectorx met a date it cannot decode natively (a zero or invalid date): read it as text."""


_SERVER_ERROR = re.compile(r"ERROR (\d+) \(\w+\): (.*?)(?: \}|$)")
_CONNECTION_LOST = ("io error", "ioerror", "connection reset", "broken pipe", "unexpected eof", "connection refused",
                    "connection aborted", "server has gone away", "lost connection")


def _cause(text: str) -> BaseException | None:
    """The driver error behind a connectorx message, so that retries judge it as they judge
    pymysql's: a server error by its code, a dropped socket as a lost connection."""
    m = _SERVER_ERROR.search(text)
    if m:
        return pymysql.err.OperationalError(int(m.group(1)), m.group(2))
    if any(phrase in text.lower() for phrase in _CONNECTION_LOST):
        return ConnectionResetError(text.splitlines()[0] if text else "connection lost")
    return None
