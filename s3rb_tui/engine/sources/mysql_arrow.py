"""MySQL extraction through connectorx: the server's rows decoded in Rust straight into Arrow.

``MySQLArrowSource`` is a ``MySQLSource`` (discovery, clock, counts and keyset predicates are the
pymysql source's own, over its pymysql connection) whose ``read_batches`` streams one query
through connectorx (``return_type="arrow_stream"``) instead of parsing the protocol in Python:

- one keyset query per run (rows strictly after the watermark, up to the run's upper bound,
  ``ORDER BY`` cursor column and primary key), cut into batches of exactly ``batch_size`` rows;
  each batch ends at a position the backup can commit, as with the pymysql path;
- a reader thread fetches and converts the next batch while the caller writes the previous one
  to Parquet (one batch ahead: memory is bounded by a few batches, never by the table);
- values reach the exact Arrow types of ``TableSchema.arrow_schema()`` (engine/schema.py's type
  rules). Where connectorx's own decoding is lossy or fails, the column is sent as text and the
  rule's converter parses it, as for the pymysql path: dates/datetimes/timestamps (zero and
  invalid dates become NULL and are counted), DECIMALs beyond 28 digits or scale 10, JSON.
  BIT, TIME and GEOMETRY use the rule's own SQL expression (``CAST .. AS UNSIGNED``,
  ``CAST .. AS CHAR``, ``ST_AsBinary``).

connectorx takes a URL with the password in it: it is built here, never logged, and scrubbed
from every error message.
"""

from __future__ import annotations

import queue
import re
import threading
import uuid
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pymysql

from s3rb_tui.engine.errors import JobError
from s3rb_tui.engine.schema import Column, ConversionStats, TableSchema
from s3rb_tui.engine.sources.base import Position, SourceBatch, order_by
from s3rb_tui.engine.sources.mysql import MySQLSource, cursor_value, json_safe
from s3rb_tui.engine.tables import quote_mysql

EXTRACT_PATH = "connectorx"
_TEXT_TEMPORAL = ("date", "datetime", "timestamp")  # rule names whose values travel as text
_RUST_DECIMAL_DIGITS = 28  # connectorx decodes DECIMAL through rust_decimal (96-bit mantissa) ...
_RUST_DECIMAL_SCALE = 10  # ... into decimal128(38, 10): wider or finer values travel as text
_QUEUE_DEPTH = 1  # batches converted ahead of the consumer
_SESSION = "SET time_zone = '+00:00'"  # as the pymysql source: TIMESTAMP values in UTC
_RANGE_HINT_TYPES = ("datetime", "timestamp", "date", "int", "bigint", "mediumint", "smallint", "tinyint")


def connectorx_available() -> bool:
    try:
        import connectorx  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class _Transport:
    """How one column travels through connectorx: the SELECT expression, and whether the
    rule's converter must parse it (text) or a plain Arrow cast reaches the rule's type."""

    select: str
    convert: bool


def _transport(c: Column) -> _Transport:
    rule = c.rule
    q = quote_mysql(c.name)
    if rule.name in _TEXT_TEMPORAL:
        return _Transport(f"CAST({q} AS CHAR) AS {q}", convert=True)
    if rule.name == "decimal" and ((c.precision or 10) > _RUST_DECIMAL_DIGITS or (c.scale or 0) > _RUST_DECIMAL_SCALE):
        return _Transport(f"CAST({q} AS CHAR) AS {q}", convert=False)
    if rule.name == "json":  # MySQL 8's JSON type is not one connectorx decodes
        return _Transport(f"CAST({q} AS CHAR) AS {q}", convert=False)
    return _Transport(f"{rule.select_expr(c)} AS {q}", convert=False)


class MySQLArrowSource(MySQLSource):
    extract_path = EXTRACT_PATH

    def __init__(self, host: str, port: int, user: str, password: str, parallel: int = 1, **options: Any):
        """``parallel``: connections reading consecutive keyset stripes at once (BACKUP_NUM_CHUNKS)."""
        super().__init__(host, port, user, password, **options)
        self._cx_password = password
        self.parallel = max(1, int(parallel))
        self._render_lock = threading.Lock()  # reader threads render SQL through the one pymysql connection

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
        transports = [_transport(c) for c in schema.columns]
        tracker = _PositionTracker(schema, transports)
        if not schema.incremental:
            yield from self._read_snapshot_stream(schema, transports, tracker, batch_size, limit)
        elif self.parallel > 1 and limit is None:
            yield from self._read_stripes(schema, transports, tracker, start, upper_bound, batch_size)
        else:
            pages = lambda: self._pages(schema, transports, tracker, start, None, upper_bound, batch_size, limit)  # noqa: E731
            yield from _read_ahead(pages, on_abandon=lambda: None)

    def _select(self, schema: TableSchema, transports: list[_Transport], tag: str = "") -> str:
        return f"SELECT {f'/* {tag} */ ' if tag else ''}{', '.join(t.select for t in transports)} FROM {schema.ref.mysql()}"

    def _pages(self, schema: TableSchema, transports: list[_Transport], tracker: "_PositionTracker", after: Position,
               through: Position | None, upper_bound: Any, batch_size: int, limit: int | None = None) -> Iterator[SourceBatch]:
        """Keyset pages of ``batch_size`` rows after ``after`` (through ``through``, if given), one
        ``ORDER BY .. LIMIT`` query each: with a LIMIT the server walks the (cursor, key) index
        instead of sorting the whole window."""
        taken = 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            table = self._read_all(schema.ref.schema, self._range_sql(schema, transports, after, through, upper_bound, n))
            if table.num_rows == 0:
                return
            batches = table.to_batches()
            sb = tracker.batch(batches[0] if len(batches) == 1 else pa.concat_batches(batches))
            yield sb
            taken += table.num_rows
            after = sb.end
            if table.num_rows < n or after == through:
                return

    def _range_sql(self, schema: TableSchema, transports: list[_Transport], after: Position, through: Position | None,
                   upper_bound: Any, limit: int) -> str:
        where, params = self._predicate(schema, after, upper_bound)
        if through is not None:
            beyond, more = self._predicate(schema, through, None)
            # rows after ``through`` excluded; COALESCE: a NULL cursor sorts first, never beyond
            where = f"{where} AND NOT COALESCE(({beyond}), FALSE)"
            params = params + more
        sql = f"{self._select(schema, transports)} WHERE {where} ORDER BY {order_by(schema, quote_mysql)} LIMIT {int(limit)}"
        with self._render_lock:
            return self._render(sql, params)

    def _read_snapshot_stream(self, schema: TableSchema, transports: list[_Transport], tracker: "_PositionTracker",
                              batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        """A table without cursor column or key: one streaming query, converted a batch ahead."""
        tag = f"s3rb-{uuid.uuid4().hex}"
        sql = self._select(schema, transports, tag)
        if schema.primary_key:
            sql += f" ORDER BY {', '.join(quote_mysql(k) for k in schema.primary_key)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"

        def produce() -> Iterator[SourceBatch]:
            for raw in _exact_batches(self._stream(schema.ref.schema, sql, batch_size), batch_size):
                yield tracker.batch(raw)

        yield from _read_ahead(produce, on_abandon=lambda: self._kill_tagged(tag))

    # --- stripes: consecutive keyset ranges read in parallel, yielded in order -----------

    def _stripe_bounds(self, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int) -> Iterator[Position]:
        """The position after every ``batch_size``-th row of the window, from an index-only scan of
        (cursor, key)."""
        sub = TableSchema(ref=schema.ref, columns=tuple(schema.column(k) for k in schema.order_columns),
                          primary_key=schema.primary_key, cursor_column=schema.cursor_column)
        transports = [_transport(c) for c in sub.columns]
        where, params = self._predicate(schema, start, upper_bound)
        with self._render_lock:
            sql = self._render(f"{self._select(sub, transports)} WHERE {where} ORDER BY {order_by(schema, quote_mysql)}", params)
        tracker = _PositionTracker(sub, transports)
        for raw in _exact_batches(self._stream(schema.ref.schema, sql, batch_size), batch_size):
            if raw.num_rows == batch_size:
                yield tracker.batch(raw).end

    def _read_stripes(self, schema: TableSchema, transports: list[_Transport], tracker: "_PositionTracker",
                      start: Position, upper_bound: Any, batch_size: int) -> Iterator[SourceBatch]:
        """Stripe i holds the rows after bound i-1 through bound i (the last one is open). While the
        bounds are still being scanned, ``self.parallel`` connections read the next stripes and the
        caller writes the current one: at most ``parallel`` + 1 stripes are held at any time."""
        bounds = _read_ahead(lambda: self._stripe_bounds(schema, start, upper_bound, batch_size), on_abandon=lambda: None,
                             depth=0)
        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="s3rb-cx-stripe")
        pending: deque[Future] = deque()
        state = {"after": start, "done": False}

        def read(after: Position, through: Position | None) -> list[SourceBatch]:
            return list(self._pages(schema, transports, tracker, after, through, upper_bound, batch_size))

        def submit_next() -> None:
            if state["done"]:
                return
            through = next(bounds, None)
            pending.append(pool.submit(read, state["after"], through))
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
        """A whole (bounded) result as one Arrow table."""
        import connectorx as cx

        with self._driver_errors():
            return cx.read_sql(self._url(database), sql, return_type="arrow", pre_execution_query=[_SESSION])

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


class _PositionTracker:
    """Turns connectorx batches into SourceBatches of the rule types, with the position after
    the last row (the keyset position for incremental tables, the latest cursor for snapshots)."""

    def __init__(self, schema: TableSchema, transports: list[_Transport]):
        self.schema = schema
        self.transports = transports
        self.arrow_schema = schema.arrow_schema()
        names = schema.column_names
        self.cursor_i = names.index(schema.cursor_column) if schema.cursor_column else None
        self.key_i = [names.index(k) for k in schema.order_columns[1:]] if schema.incremental else []
        self.latest: Any = None  # snapshots: the largest cursor value read so far

    def batch(self, raw: pa.RecordBatch) -> SourceBatch:
        stats = ConversionStats()
        converted = [self._convert(c, t, raw.column(i), stats)
                     for i, (c, t) in enumerate(zip(self.schema.columns, self.transports))]
        batch = pa.RecordBatch.from_arrays(converted, schema=self.arrow_schema)
        last = raw.num_rows - 1
        if self.schema.incremental:
            cursor = raw.column(self.cursor_i)
            end = Position(
                cursor=cursor_value(self.schema.columns[self.cursor_i], cursor[last].as_py()),
                key=tuple(json_safe(self._position_value(i, raw, converted)[last].as_py()) for i in self.key_i),
                nulls_done=cursor[last].is_valid,
            )
            nulls = cursor.null_count
        else:
            if self.cursor_i is not None:
                top = pc.max(raw.column(self.cursor_i)).as_py()
                if top is not None and (self.latest is None or top > self.latest):
                    self.latest = top
            end = Position(
                cursor=None if self.latest is None else cursor_value(self.schema.columns[self.cursor_i], self.latest),
                key=None, nulls_done=True,
            )
            nulls = 0
        return SourceBatch(batch=batch, end=end, null_cursor_rows=nulls, stats=stats)

    def _position_value(self, i: int, raw: pa.RecordBatch, converted: list[pa.Array]) -> pa.Array:
        # temporal keys as the server's text (as the pymysql path keeps them); others exact-typed
        return raw.column(i) if self.transports[i].convert else converted[i]

    @staticmethod
    def _convert(c: Column, t: _Transport, arr: pa.Array, stats: ConversionStats) -> pa.Array:
        rule = c.rule
        target = rule.arrow(c)
        if t.convert:
            if arr.type != pa.string():
                arr = arr.cast(pa.string())
            out = rule.convert(arr, c.name, stats)  # the rule's text path (zero dates counted)
            arr = out if isinstance(out, pa.Array) else pa.array(out, type=target)
        return arr if arr.type == target else arr.cast(target)


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
