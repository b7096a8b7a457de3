"""The pymysql path's pages (``sources/mysql_rows.py``): a file of more rows than one query may read
is whole pages, and the file ends where its last page ends."""

from __future__ import annotations

import pyarrow as pa

from s3rb_tui.engine.core.type_rules import ConversionStats
from s3rb_tui.engine.sources.base import Position, SourceBatch
from s3rb_tui.engine.core.batch_sizes import PYMYSQL_QUERY_ROWS as QUERY_ROWS
from s3rb_tui.engine.sources.mysql_rows import page_rows, whole_files


def test_page_rows_divide_the_file():
    assert QUERY_ROWS == 10_000
    assert [page_rows(n) for n in (1, 10_000, 20_000, 50_000, 25_000, 100_000)] == [1, 10_000, 10_000, 10_000, 6_250, 10_000]
    assert page_rows(50_021) == 50_021  # a prime: one query a file, as before
    assert all(n % page_rows(n) == 0 and page_rows(n) <= QUERY_ROWS for n in range(10_001, 12_000) if page_rows(n) != n)


def page(first: int, rows: int, nulls: int = 0, zero_dates: int = 0) -> SourceBatch:
    stats = ConversionStats()
    if zero_dates:
        stats.add_zero_date("d", zero_dates)
    return SourceBatch(pa.record_batch({"id": list(range(first, first + rows))}), end=Position(key=(first + rows - 1,)),
                       null_cursor_rows=nulls, stats=stats)


def test_pages_join_into_files_that_end_at_their_last_page():
    pages = [page(1, 2, nulls=1), page(3, 2, zero_dates=2), page(5, 2), page(7, 2), page(9, 1)]
    files = list(whole_files(iter(pages), 4))
    assert [f.batch.column("id").to_pylist() for f in files] == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert [f.end.key for f in files] == [(4,), (8,), (9,)]
    assert (files[0].null_cursor_rows, files[0].stats.total_zero_dates) == (1, 2)


def test_a_page_without_rows_ends_the_file_it_joins():
    end = SourceBatch(pa.record_batch({"id": pa.array([], pa.int64())}), end=Position(cursor="scan end"))
    files = list(whole_files(iter([page(1, 2), end]), 4))
    assert [(f.batch.num_rows, f.end) for f in files] == [(2, Position(cursor="scan end"))]
    assert [(f.batch.num_rows, f.end) for f in whole_files(iter([page(1, 4), end]), 4)] == [(4, Position(key=(4,))), (0, Position(cursor="scan end"))]
