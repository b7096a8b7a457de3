"""The one home of the two batch sizes' defaults: ``settings`` (BACKUP_BATCH_SIZE,
BACKUP_QUERY_ROWS) and the fast extraction path (``sources.mysql_arrow``) both read them here.

- ``FILE_ROWS``: rows per Parquet file, the manual's BACKUP_BATCH_SIZE (users know 10,000).
- ``QUERY_ROWS``: rows one query of the fast path reads, sliced zero-copy into files of
  ``FILE_ROWS``. Measured (bench/defaults.py, 1M rows x 51 columns, one run, medians of 3):
  10,000 rows a query cost 15.0 s of client CPU, 50,000 cost 13.8 s, 0.91x of the best
  combination found (100,000 x 2 chunks), at 371 MiB peak against 216 MiB.
"""

FILE_ROWS = 10_000
QUERY_ROWS = 50_000
