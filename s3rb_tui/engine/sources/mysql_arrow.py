"""MySQL extraction through connectorx: the server's rows decoded in Rust straight into Arrow.

``MySQLArrowSource`` is a ``MySQLSource`` (discovery, clock, counts and keyset predicates are the
pymysql source's own, over its pymysql connection) whose ``read_batches`` reads with connectorx
instead of parsing the protocol in Python:

- Incremental tables are read in keyset pages (``WHERE`` after the last position ``ORDER BY``
  cursor, key ``LIMIT batch_size``: the server walks the (cursor, key) index), each page one
  batch that ends at a position the backup can commit, exactly as on the pymysql path.
- With ``parallel`` > 1 (BACKUP_NUM_CHUNKS) the window is cut into stripes of ``batch_size``
  rows: stripe bounds come from ``LIMIT 1 OFFSET batch_size-1`` queries on the index (one row
  each), ``parallel`` connections read the next stripes while the caller writes the current one,
  and batches are yielded in keyset order, so per-batch watermark commits stay valid.
- With one connection, a reader thread fetches and converts the next page while the caller
  encodes and uploads the previous one. Memory is bounded by ``parallel`` + 2 batches.
- Values reach the exact Arrow types of ``TableSchema.arrow_schema()`` (engine/schema.py's type
  rules). Where connectorx's own decoding is lossy or fails, the column travels as text and the
  rule converts it: DECIMALs beyond 18 integer digits or scale 10, JSON; dates natively until a page holds
  one connectorx cannot decode (zero or invalid dates), which is re-read, with every later page,
  as text for the rule's converter (zero dates become NULL and are counted). BIT, TIME and
  GEOMETRY use the rule's own SQL (``CAST .. AS UNSIGNED``, ``CAST .. AS CHAR``, ``ST_AsBinary``).
- Snapshot tables (no cursor column or no key) are one streamed query, dates as text.

connectorx takes a URL with the password in it: it is built here, never logged, and scrubbed
from every error message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import queue
import re
import threading
import uuid
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pymysql

from s3rb_tui.engine.errors import JobError
from s3rb_tui.engine.retry import call_with_retry
from s3rb_tui.engine.schema import Column, ConversionStats, TableSchema
from s3rb_tui.engine.sources.base import InitialScan, Position, SourceBatch, empty_batch
from s3rb_tui.engine.sources.keyset import INTEGER_TYPES, ArrowPositions, json_safe, mysql_keyset, order_row_position
from s3rb_tui.engine.sources.mysql import MySQLSource, select_columns
from s3rb_tui.engine.tables import quote_mysql

EXTRACT_PATH = "connectorx"
_TEMPORAL = ("date", "datetime", "timestamp")  # rule names that may hold zero dates
_RUST_DECIMAL_DIGITS = 28  # connectorx decodes DECIMAL through rust_decimal (96-bit mantissa) ...
_RUST_DECIMAL_SCALE = 10  # ... rescaled to decimal128(38, 10): at most 18 integer digits, or it fails
_DOUBLE_DIGITS = 15  # DECIMAL(p <= 15, s) travels as a DOUBLE: exact once scaled and rounded (see _unscaled_from_double)
_SCALED_DIGITS = 18  # DECIMAL(p <= 18, s) * 10^s always fits a BIGINT: wider ones up to 18 digits travel as scaled integers
_INTEGER_RULES = INTEGER_TYPES + ("bit",)  # rules whose connectorx value is the int the pymysql driver gives
_DECIMAL_FROM_INT64 = 19  # the precision Arrow asks for to hold any BIGINT
_QUEUE_DEPTH = 1  # batches converted ahead of the consumer
_YEAR_ONE = dt.datetime(1, 1, 1)  # a native date before it has year 0
_SESSION = "SET time_zone = '+00:00'"  # as the pymysql source: TIMESTAMP values in UTC


def connectorx_available() -> bool:
    try:
        import connectorx  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class _Transport:
    """How one column travels through connectorx: the SELECT expression, and how it reaches the
    rule's Arrow type: ``cast`` (a plain Arrow cast), ``text`` (the server's text, parsed by the
    rule's converter), ``temporal`` (a native date/datetime, of which year 0 is a zero date) or
    ``scaled`` (a DECIMAL's value * 10^scale as a BIGINT: the decimal's unscaled integer) or
    ``double`` (a DECIMAL of at most 15 digits as the nearest DOUBLE, whose unscaled integer is
    recovered exactly on this side)."""

    select: str
    kind: str


def _transport(c: Column, temporal_as_text: bool) -> _Transport:
    rule = c.rule
    q = quote_mysql(c.name)
    if rule.name in _TEMPORAL:
        if temporal_as_text:
            return _Transport(f"CAST({q} AS CHAR) AS {q}", "text")
        return _Transport(f"{q}", "temporal")
    if rule.name == "decimal" and (c.precision or 10) <= _DOUBLE_DIGITS:
        # connectorx parses DECIMAL text through rust_decimal, its largest client cost on the
        # settlement table; the server's conversion to DOUBLE costs it less than the scaled
        # integer's DECIMAL multiplication below (server CPU per 1M rows x 20 columns: 4.1 s, 5.1 s)
        return _Transport(f"({q} + 0e0) AS {q}", "double")
    if rule.name == "decimal" and (c.precision or 10) <= _SCALED_DIGITS:
        # as the integer value * 10^scale, which a DOUBLE cannot carry exactly beyond 15 digits
        scale = c.scale or 0
        return _Transport(f"CAST({q} AS SIGNED) AS {q}" if scale == 0 else f"CAST({q} * {10 ** scale} AS SIGNED) AS {q}", "scaled")
    if rule.name == "decimal" and ((c.precision or 10) - (c.scale or 0) > _RUST_DECIMAL_DIGITS - _RUST_DECIMAL_SCALE
                                   or (c.scale or 0) > _RUST_DECIMAL_SCALE):
        # e.g. DECIMAL(25,5) 12345678901234567890.12345: "decimal scale is not equal to expected scale"
        return _Transport(f"CAST({q} AS CHAR) AS {q}", "cast")
    if rule.name == "float":  # connectorx reads it in the binary protocol: exact (the rule's SQL is for the text protocol)
        return _Transport(q, "cast")
    if rule.name == "json":  # MySQL 8's JSON type is not one connectorx decodes
        return _Transport(f"CAST({q} AS CHAR) AS {q}", "cast")
    return _Transport(f"{rule.select_expr(c)} AS {q}", "cast")


@dataclass
class _Read:
    """One read of a table: the columns as native values where connectorx can decode them, and as
    text once a page held a date it cannot (a zero or invalid date): every page after that is text."""

    schema: TableSchema
    converter: "_BatchConverter"
    native: list[_Transport]
    text: list[_Transport]
    use_text: bool = False

    @classmethod
    def of(cls, schema: TableSchema) -> "_Read":
        return cls(schema, _BatchConverter(schema), [_transport(c, False) for c in schema.columns],
                   [_transport(c, True) for c in schema.columns])

    @property
    def transports(self) -> list[_Transport]:
        return self.text if self.use_text else self.native


class MySQLArrowSource(MySQLSource):
    extract_path = EXTRACT_PATH

    def __init__(self, host: str, port: int, user: str, password: str, parallel: int = 1, tunnel: bool = False,
                 **options: Any):
        """``parallel``: connections reading consecutive keyset stripes at once (BACKUP_NUM_CHUNKS).
        ``tunnel``: the server is reached through this process's SSH tunnel, whose forwarder threads
        share the GIL with connectorx. Its streaming reader holds the GIL while it connects (the
        forwarder could not answer), whole-page reads release it: through a tunnel, pages are read
        one at a time on one connection, when the caller asks for them (a dropped session costs no
        read-ahead), and snapshot tables (one streamed query) take the pymysql reader."""
        self._cx_password = password  # set before connecting: a failed connect's error is scrubbed with it
        self.tunnel = tunnel
        self.parallel = 1 if tunnel else max(1, int(parallel))
        self._render_lock = threading.Lock()  # reader threads render SQL through the one pymysql connection
        _warm_up_conversions()
        super().__init__(host, port, user, password, **options)

    def _url(self, database: str) -> str:
        auth = quote(self.user, safe="") + (":" + quote(self._cx_password, safe="") if self._cx_password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(database, safe='')}"

    def _scrub(self, text: str) -> str:
        text = super()._scrub(text)
        if self._cx_password:
            text = text.replace(quote(self._cx_password, safe=""), "****")
        return text

    def __repr__(self) -> str:
        return f"MySQLArrowSource({self.user}@{self.host}:{self.port})"

    # --- extraction ---------------------------------------------------------------------

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
        read = _Read.of(schema)
        if schema.incremental and start.scan is not None:
            yield from self._read_scan(read, start.scan, batch_size, limit)
        elif self.tunnel:
            if schema.incremental:
                yield from self._pages(read, start, None, upper_bound, batch_size, limit)
            else:
                yield from super().read_batches(schema, start, upper_bound, batch_size, limit)
        elif not schema.incremental:
            yield from self._read_snapshot_stream(read, batch_size, limit)
        elif self.parallel > 1 and limit is None:
            yield from self._read_stripes(read, start, upper_bound, batch_size)
        else:
            pages = lambda: self._pages(read, start, None, upper_bound, batch_size, limit)  # noqa: E731
            yield from _read_ahead(pages, on_abandon=lambda: None)

    def _select(self, schema: TableSchema, transports: list[_Transport], tag: str = "") -> str:
        return f"SELECT {f'/* {tag} */ ' if tag else ''}{', '.join(t.select for t in transports)} FROM {schema.ref.mysql()}"

    def _pages(self, read: _Read, after: Position, through: Position | None, upper_bound: Any, batch_size: int,
               limit: int | None = None) -> Iterator[SourceBatch]:
        """Keyset pages of ``batch_size`` rows after ``after`` (through ``through``, if given), one
        ``ORDER BY .. LIMIT`` query each: with a LIMIT the server walks the (cursor, key) index
        instead of sorting the whole window."""
        taken = 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            sb = self._page(read, after, through, upper_bound, n)
            if sb is None:
                return
            yield sb
            rows = sb.batch.num_rows
            taken += rows
            after = sb.end
            if rows < n or after == through:
                return

    def _page(self, read: _Read, after: Position, through: Position | None, upper_bound: Any, n: int) -> SourceBatch | None:
        return self._read_page(read, lambda transports: self._range_sql(read.schema, transports, after, through, upper_bound, n))

    def _read_page(self, read: _Read, sql_for: Callable[[list[_Transport]], str], scan: InitialScan | None = None) -> SourceBatch | None:
        """One bounded query (``sql_for`` the columns' transports) as one converted batch, or None
        when it found no rows. ``scan``: the batch ends at its last primary key in that scan."""
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
            return None
        batches = table.to_batches()
        sb = read.converter.batch(batches[0] if len(batches) == 1 else pa.concat_batches(batches), transports, scan)
        del table, batches
        _release_freed_memory()
        return sb

    def _range_sql(self, schema: TableSchema, transports: list[_Transport], after: Position, through: Position | None,
                   upper_bound: Any, limit: int) -> str:
        where, params = self._predicate(schema, after, upper_bound)
        if through is not None:
            beyond, more = self._predicate(schema, through, None)
            # rows after ``through`` excluded; COALESCE: a NULL cursor sorts first, never beyond
            where = f"{where} AND NOT COALESCE(({beyond}), FALSE)"
            params = params + more
        sql = f"{self._select(schema, transports)} WHERE {where} ORDER BY {mysql_keyset(schema).order_by()} LIMIT {int(limit)}"
        with self._render_lock:
            return self._render(sql, params)

    # --- initial scan: a first full backup in primary-key order --------------------------

    def _read_scan(self, read: _Read, scan: InitialScan, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        """Pages in primary-key order from the scan's key: through a tunnel one at a time, else in
        stripes read in parallel or a page ahead. The last batch carries the finished scan's position."""
        if self.tunnel:
            yield from self._scan_pages(read, scan, scan.after_key, None, batch_size, limit, finish=True)
        elif self.parallel > 1 and limit is None:
            yield from self._scan_stripes(read, scan, batch_size)
        else:
            pages = lambda: self._scan_pages(read, scan, scan.after_key, None, batch_size, limit, finish=True)  # noqa: E731
            yield from _read_ahead(pages, on_abandon=lambda: None)

    def _scan_pages(self, read: _Read, scan: InitialScan, after: tuple | None, through: tuple | None, batch_size: int,
                    limit: int | None = None, finish: bool = False) -> Iterator[SourceBatch]:
        """Pages of ``batch_size`` rows with keys after ``after`` through ``through`` (open when
        None). ``finish``: the range is the rest of the scan, so its last page ends at the scan's
        keyset position (an empty batch carries it when the last page was full)."""
        schema, taken = read.schema, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            sb = self._read_page(read, lambda transports, a=after: self._scan_sql(schema, transports, scan, a, through, n), scan)
            rows = sb.batch.num_rows if sb is not None else 0
            if sb is not None:
                after = sb.end.scan.after_key  # type: ignore[union-attr]
            taken += rows
            done = rows < n or (through is not None and after == through)
            if done and finish:
                end = self.scan_end(schema, scan)
                yield replace(sb, end=end) if sb is not None else empty_batch(schema, end)
            elif sb is not None:
                yield sb
            if done:
                return

    def _scan_sql(self, schema: TableSchema, transports: list[_Transport], scan: InitialScan, after: tuple | None,
                  through: tuple | None, limit: int) -> str:
        keyset = mysql_keyset(schema)
        where, params = self._scan_predicate(schema, after, scan.upper_bound)
        if through is not None:
            beyond, more = keyset.key_after(schema.primary_key, through)
            where, params = f"{where} AND NOT {beyond}", params + more
        sql = f"{self._select(schema, transports)} WHERE {where} ORDER BY {keyset.key_order_by()} LIMIT {int(limit)}"
        with self._render_lock:
            return self._render(sql, params)

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

    def _scan_stripes(self, read: _Read, scan: InitialScan, batch_size: int) -> Iterator[SourceBatch]:
        """Stripes of ``batch_size`` keys read in parallel and yielded in key order, then an empty
        batch that carries the finished scan's keyset position."""
        def read_stripe(after: tuple | None, through: tuple | None) -> list[SourceBatch]:
            return list(self._scan_pages(read, scan, after, through, batch_size))

        bounds = self._scan_bounds_by_value(read.schema, scan.after_key, batch_size)
        if bounds is None:
            bounds = self._scan_bounds(read.schema, scan.after_key, batch_size)
        yield from self._ordered_stripes(bounds, scan.after_key, read_stripe)
        yield empty_batch(read.schema, self.scan_end(read.schema, scan))

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
        with self._render_lock:
            lo, hi = self._query(f"SELECT MIN({key}), MAX({key}) FROM {schema.ref.mysql()}{where}", params)[0]
            stats = self._query("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
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

    def scan_end(self, schema: TableSchema, scan: InitialScan) -> Position:
        with self._render_lock:  # the one pymysql connection, shared with the reader threads
            return super().scan_end(schema, scan)

    def _read_snapshot_stream(self, read: _Read, batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
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
            for raw in _exact_batches(self._stream(schema.ref.schema, sql, batch_size), batch_size):
                sb = read.converter.batch(raw, transports)
                del raw
                _release_freed_memory()
                yield sb

        yield from _read_ahead(produce, on_abandon=lambda: self._kill_tagged(tag))

    # --- stripes: consecutive keyset ranges read in parallel, yielded in order -----------

    def _stripe_bounds(self, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int) -> Iterator[Position]:
        """The position after every ``batch_size``-th row of the window, one at a time: each is one
        ``LIMIT 1 OFFSET n`` query that walks the (cursor, key) index on the server and sends one row."""
        return self._every_nth_row(
            schema, list(schema.order_columns), start, batch_size, mysql_keyset(schema).order_by(),
            where_after=lambda a: self._predicate(schema, a, upper_bound),
            position=lambda row: order_row_position(schema, row),
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
            with self._render_lock:
                rows = self._query(sql, params)
            if not rows:
                return
            after = position(rows[0])
            yield after

    def _read_stripes(self, read: _Read, start: Position, upper_bound: Any, batch_size: int) -> Iterator[SourceBatch]:
        """Stripe i holds the rows after bound i-1 through bound i (the last one is open).
        ``self.parallel`` connections read the next stripes while the caller writes the current
        one: at most ``parallel`` + 1 stripes are held at any time."""
        def read_stripe(after: Position, through: Position | None) -> list[SourceBatch]:
            return list(self._pages(read, after, through, upper_bound, batch_size))

        yield from self._ordered_stripes(self._stripe_bounds(read.schema, start, upper_bound, batch_size), start, read_stripe)

    def _ordered_stripes(self, bounds: Iterator[Any], start: Any, read_stripe: Callable[[Any, Any], list[SourceBatch]]) -> Iterator[SourceBatch]:
        """``read_stripe(after, through)`` for consecutive stripes (the last one open), ``parallel``
        at a time in threads, their batches yielded in order."""
        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="s3rb-cx-stripe")
        pending: deque[Future] = deque()
        state = {"after": start, "done": False}

        def submit_next() -> None:
            if state["done"]:
                return
            through = next(bounds, None)
            pending.append(pool.submit(read_stripe, state["after"], through))
            state["after"] = through
            state["done"] = through is None

        try:
            for _ in range(self.parallel):
                submit_next()
            while pending:
                batches = pending.popleft().result()
                submit_next()
                yield from batches
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            bounds.close()

    def _render(self, sql: str, params: list[Any]) -> str:
        """The query with its parameters as literals (connectorx has no parameter binding),
        escaped by pymysql exactly as the pymysql path would send them."""
        if not params:
            return sql
        def render(conn) -> str:
            with conn.cursor() as cur:
                return cur.mogrify(sql, params)

        return self._run("MySQL query", render)

    def _stream(self, database: str, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The result in record batches of ``batch_size`` rows, streamed from the server."""
        import connectorx as cx

        with self._driver_errors():
            reader = cx.read_sql(self._url(database), sql, return_type="arrow_stream", batch_size=batch_size,
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
                return cx.read_sql(self._url(database), sql, return_type="arrow", pre_execution_query=[_SESSION])

        return call_with_retry(attempt, attempts=self._attempts, what="MySQL batch read (connectorx)", log=self.log)

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
            detail = self._scrub(text.splitlines()[0] if text else type(e).__name__)
            if _UNDECODABLE_DATE.search(text):
                raise _UndecodableDate(detail) from None
            raise JobError(f"MySQL error at {self.host}:{self.port} (connectorx): {detail}",
                           "retry with --extract-engine pymysql (EXTRACT_ENGINE=pymysql) if it persists") from _cause(text)

    def _kill_tagged(self, tag: str) -> None:
        """Stop the streaming query of an abandoned read (cancel, error downstream): the driver
        would otherwise read the rest of the result off the wire before letting go."""
        try:
            rows = self._query(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{tag}%",),
            )
            for (pid,) in rows:
                self._query(f"KILL QUERY {int(pid)}")
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


class _BatchConverter:
    """connectorx batches as SourceBatches of the rule types, each ending at the position after its
    last row (``keyset.ArrowPositions``: the keyset position, or a snapshot's latest cursor)."""

    def __init__(self, schema: TableSchema):
        self.schema = schema
        self.arrow_schema = schema.arrow_schema()
        self.positions = ArrowPositions(schema)

    def batch(self, raw: pa.RecordBatch, transports: list[_Transport], scan: InitialScan | None = None) -> SourceBatch:
        stats = ConversionStats()
        converted = [_convert(c, t, raw.column(i), stats) for i, (c, t) in enumerate(zip(self.schema.columns, transports))]
        batch = pa.RecordBatch.from_arrays(converted, schema=self.arrow_schema)
        # positions hold dates as sent (text or native, as the pymysql path keeps them), integers as
        # connectorx's native ints (BIGINT UNSIGNED is a decimal in the file, an int in a position, as
        # on the pymysql path); others exact-typed
        sent = [raw.column(i) if t.kind in ("text", "temporal") or c.rule.name in _INTEGER_RULES else converted[i]
                for i, (c, t) in enumerate(zip(self.schema.columns, transports))]
        end, nulls = self.positions.end(sent, scan)
        return SourceBatch(batch=batch, end=end, null_cursor_rows=nulls, stats=stats)


def _convert(c: Column, t: _Transport, arr: pa.Array, stats: ConversionStats) -> pa.Array:
    rule = c.rule
    target = rule.arrow(c)
    if t.kind == "text":
        if arr.type != pa.string():
            arr = arr.cast(pa.string())
        out = rule.convert(arr, c.name, stats)  # the rule's text path (zero dates counted)
        arr = out if isinstance(out, pa.Array) else pa.array(out, type=target)
    elif t.kind == "temporal" and arr.null_count < len(arr):
        # connectorx decodes every valid calendar date, and year 0, which the rule counts as a zero date
        zero = pc.less(arr, pa.scalar(_YEAR_ONE, arr.type) if pa.types.is_timestamp(arr.type) else pa.scalar(_YEAR_ONE.date(), arr.type))
        n_zero = pc.sum(zero).as_py() or 0
        if n_zero:
            arr = pc.if_else(zero, pa.scalar(None, arr.type), arr)
            stats.add_zero_date(c.name, n_zero)
    elif t.kind == "scaled":
        # the unscaled integers, widened to 128 bits and read with the column's precision and scale
        return arr.cast(pa.decimal128(_DECIMAL_FROM_INT64, 0)).view(target)
    elif t.kind == "double":
        return _unscaled_from_double(arr, c.scale or 0).cast(pa.decimal128(_DECIMAL_FROM_INT64, 0)).view(target)
    return arr if arr.type == target else arr.cast(target)


def _unscaled_from_double(arr: pa.Array, scale: int) -> pa.Array:
    """The unscaled integers (value * 10^scale) of DECIMAL(p <= 15, scale) values sent as DOUBLEs.

    The server converts a DECIMAL to the nearest DOUBLE (MariaDB and MySQL format it and parse it
    with a correctly rounding strtod): relative error at most 2^-53. Multiplying by 10^scale (an
    exact double: scale <= 15) adds one more rounding. With |value * 10^scale| < 10^15 the result
    is within 10^15 * 2^-52 < 0.23 of the integer (0.34 even if the server's conversion were off
    by a whole unit in the last place), so rounding to the nearest integer gives it back exactly.
    At 16 digits the bound passes 0.5: 2^53 + 1 has no double of its own."""
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64())
    scaled = pc.multiply(arr, pa.scalar(float(10 ** scale))) if scale else arr
    return pc.round(scaled).cast(pa.int64())


def _exact_batches(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of record batches into batches of exactly ``size`` rows (the last may be short)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for rb in batches:
        if not pending and rb.num_rows == size:  # connectorx's batches already have the size
            yield rb
            continue
        pending.append(rb)
        have += rb.num_rows
        while have >= size:
            merged = pa.concat_batches(pending)
            yield merged.slice(0, size)
            rest = merged.slice(size)
            pending = [rest] if rest.num_rows else []
            have = rest.num_rows
    if have:
        yield pa.concat_batches(pending)


def _libc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _libc_trim()


def _release_freed_memory() -> None:
    """Hand the memory of a converted page back to the system. connectorx allocates its Arrow
    buffers with the C allocator from its own threads; glibc keeps what they free in per-thread
    arenas, and without a trim the process grows with every page: memory would grow with the table."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


_WARMED_UP = threading.Event()


def _warm_up_conversions() -> None:
    """pyarrow imports pandas (when installed: about 0.23 s of CPU) the first time it converts a
    Python value, which the first page's conversion does on the reader thread while the backup
    waits for it. Do it once per process in the background instead, while the connection,
    discovery and planning wait on the server."""
    if _WARMED_UP.is_set():
        return
    _WARMED_UP.set()
    threading.Thread(target=lambda: pa.array([0]), name="s3rb-arrow-warm-up", daemon=True).start()


_DONE = object()


def _read_ahead(produce: Callable[[], Iterator[Any]], on_abandon: Callable[[], None],
                depth: int = _QUEUE_DEPTH) -> Iterator[Any]:
    """Run ``produce`` in a reader thread, ``depth`` items ahead of the consumer (0: as far as it
    goes), so that fetching and converting overlap with the caller's Parquet encoding and upload."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for sb in produce():
                if not put(sb):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer, raised there
            put(e)

    reader = threading.Thread(target=run, name="s3rb-cx-reader", daemon=True)
    reader.start()
    finished = False
    try:
        while True:
            item = q.get()
            if item is _DONE:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = True
                raise item
            yield item
    finally:
        stop.set()
        if not finished:
            on_abandon()
        reader.join(timeout=30)
