"""The pymysql fetch backend: rows stream from the server through an unbuffered cursor
(``SSCursor``, memory bounded by one batch) and become Arrow through the type rules.

Dates and decimals come through as the server's text (``mysql.py``'s decoders): the type rules
parse whole columns in Arrow (C) instead of pymysql building one Python object per value, and
cursor values are already in their JSON form ('YYYY-MM-DD HH:MM:SS[.ffffff]').
"""

from __future__ import annotations

from dataclasses import replace

from typing import Any, Iterator

import pyarrow as pa
import pymysql
import pymysql.cursors

from s3rb_tui.engine.core.batch_sizes import PYMYSQL_QUERY_ROWS
from s3rb_tui.engine.core.type_rules import ConversionStats, TableSchema, rows_to_batch
from s3rb_tui.engine.sources.base import InitialScan, Position, SourceBatch, empty_batch
from s3rb_tui.engine.sources.fetch import FetchBackend, MySQLSession
from s3rb_tui.engine.sources.keyset import MYSQL_KEYS, RowPositions, mysql_keyset

PATH = "pymysql"



def page_rows(file_rows: int, most: int = PYMYSQL_QUERY_ROWS) -> int:
    """Rows per query for files of ``file_rows``: all of them up to ``most``; else ``file_rows / k``
    for the smallest ``k`` (from ``file_rows / most`` rounded up, to 4 times that) that divides it,
    so that every file is whole pages and ends at its last page's position; ``file_rows`` (one query
    a file, as before) when no such ``k`` exists (a prime number of rows)."""
    if file_rows <= most:
        return file_rows
    fewest = -(-file_rows // most)
    for k in range(fewest, 4 * fewest + 1):
        if file_rows % k == 0:
            return file_rows // k
    return file_rows


def whole_files(pages: Iterator[SourceBatch], file_rows: int) -> Iterator[SourceBatch]:
    """Consecutive pages joined into batches of ``file_rows`` (the last may be short), each ending
    at the position of its last page; a page without rows (the end of an initial scan) ends the
    batch it joins."""
    pending: list[SourceBatch] = []
    have = 0
    for page in pages:
        pending.append(page)
        have += page.batch.num_rows
        if have >= file_rows or page.batch.num_rows == 0:
            yield _joined(pending)
            pending, have = [], 0
    if pending:
        yield _joined(pending)


def _joined(pages: list[SourceBatch]) -> SourceBatch:
    if len(pages) == 1:
        return pages[0]
    stats = ConversionStats()
    for page in pages:
        stats.merge(page.stats)
    return SourceBatch(batch=pa.concat_batches([p.batch for p in pages]), end=pages[-1].end,
                       null_cursor_rows=sum(p.null_cursor_rows for p in pages), stats=stats)


def select_columns(schema: TableSchema, names: "list[str] | tuple[str, ...]") -> str:
    """The SELECT list of ``names``, each through its type rule's expression."""
    return ", ".join(schema.column(k).rule.select_expr(schema.column(k)) for k in names)


def fetch_page(session: MySQLSession, sql: str, params: list[Any]) -> list[tuple]:
    """One bounded page through an unbuffered cursor (its LIMIT bounds the rows held), retried."""

    def fetch(conn):
        cur = conn.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql, params)
            rows = list(cur.fetchall())
        except BaseException:
            session.abandon(cur)
            raise
        cur.close()
        return rows

    return session.run("MySQL batch read", fetch)


class PyMySQLRows(FetchBackend):
    path = PATH

    def __init__(self, query_rows: int = PYMYSQL_QUERY_ROWS):
        """``query_rows``: rows one query reads at most (``PYMYSQL_QUERY_ROWS``; tests make pages small)."""
        self.query_rows = max(1, int(query_rows))

    def read(self, session: MySQLSession, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int,
             limit: int | None) -> Iterator[SourceBatch]:
        page = page_rows(batch_size, self.query_rows)
        if schema.incremental and start.scan is not None:
            pages = self._read_scan(session, schema, start.scan, page, limit)
        elif schema.incremental:
            pages = self._read_keyset(session, schema, start, upper_bound, page, limit)
        else:
            pages = self._read_snapshot(session, schema, page, limit)
        return pages if page == batch_size else whole_files(pages, batch_size)

    def _read_keyset(self, session: MySQLSession, schema: TableSchema, start: Position, upper_bound: Any,
                     batch_size: int, limit: int | None) -> Iterator[SourceBatch]:
        keyset, positions = mysql_keyset(schema), RowPositions(schema, MYSQL_KEYS)
        select = f"SELECT {select_columns(schema, schema.column_names)} FROM {schema.ref.mysql()}"
        order = keyset.order_by()
        position, taken = start, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            where, params = keyset.window(position, upper_bound)
            rows = fetch_page(session, f"{select} WHERE {where} ORDER BY {order} LIMIT {int(n)}", params)
            if not rows:
                return
            position, nulls = positions.end(rows)
            taken += len(rows)
            yield _batch(schema, rows, position, nulls)
            if len(rows) < n:
                return

    def _read_scan(self, session: MySQLSession, schema: TableSchema, scan: InitialScan, batch_size: int,
                   limit: int | None) -> Iterator[SourceBatch]:
        """Pages of an initial scan in primary-key order; the last one ends at the keyset position
        of the whole scan (an empty batch carries it when the last page was full)."""
        keyset, positions = mysql_keyset(schema), RowPositions(schema, MYSQL_KEYS)
        select = f"SELECT {select_columns(schema, schema.column_names)} FROM {schema.ref.mysql()}"
        order = keyset.key_order_by()
        after, taken = scan.after_key, 0
        while limit is None or taken < limit:
            n = batch_size if limit is None else min(batch_size, limit - taken)
            where, params = keyset.scan_window(after, scan.upper_bound, scan.since)
            rows = fetch_page(session, f"{select} WHERE {where} ORDER BY {order} LIMIT {int(n)}", params)
            end, nulls = positions.end(rows, scan) if rows else (Position(scan=replace(scan, after_key=after)), 0)
            after = end.scan.after_key  # type: ignore[union-attr]
            done = len(rows) < n
            if done:
                end = session.scan_end(schema, scan)
            taken += len(rows)
            yield _batch(schema, rows, end, nulls) if rows else empty_batch(schema, end)
            if done:
                return

    def _read_snapshot(self, session: MySQLSession, schema: TableSchema, batch_size: int,
                       limit: int | None) -> Iterator[SourceBatch]:
        sql = f"SELECT {select_columns(schema, schema.column_names)} FROM {schema.ref.mysql()}"
        if schema.primary_key:
            sql += f" ORDER BY {mysql_keyset(schema).key_order_by()}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        positions = RowPositions(schema, MYSQL_KEYS)

        def start(conn):
            cur = conn.cursor(pymysql.cursors.SSCursor)
            try:
                cur.execute(sql)
            except BaseException:
                session.abandon(cur)
                raise
            return cur

        cur = session.run("MySQL snapshot read", start)  # retried: nothing has been read yet
        finished = False
        try:
            while True:
                try:
                    rows = cur.fetchmany(batch_size)
                except pymysql.err.MySQLError as e:
                    raise session.driver_error(e) from e
                if not rows:
                    finished = True
                    return
                end, _ = positions.end(rows)
                sb = _batch(schema, rows, end, 0)
                del rows  # not held while the caller writes the batch and the next fetchmany fills another (as sqlite.py)
                yield sb
        finally:
            if finished:
                cur.close()
            else:
                session.abandon(cur)  # stopped early (limit, cancel, error): end the query at once


def _batch(schema: TableSchema, rows: list[tuple], end: Position, nulls: int) -> SourceBatch:
    stats = ConversionStats()
    columns = [list(col) for col in zip(*rows)]
    return SourceBatch(batch=rows_to_batch(schema, columns, stats), end=end, null_cursor_rows=nulls, stats=stats)
