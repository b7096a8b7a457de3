"""The one home of the extraction's sizing defaults: ``settings`` (BACKUP_BATCH_SIZE,
BACKUP_QUERY_ROWS, BACKUP_NUM_CHUNKS) and the extraction paths (``sources.mysql_arrow``,
``sources.mysql_rows``) read them here.

- ``FILE_ROWS``: rows per Parquet file, the manual's BACKUP_BATCH_SIZE (the manual's `.env` sets
  10,000 and advises 50,000 for tables over 1M rows). Every file costs the backup's thread its
  upload and a watermark commit: to moto's S3 server (bench/defaults.py --s3, 1M settlement rows,
  2 connections) files of 10,000 ran at 0.85x files of 50,000. 50,000 is the default since reading
  a file hands its memory back (``core.memory``): before, a sync to PostgreSQL of such files was
  not flat in memory (252 MiB at 300k rows, 396 at 1M; now 235 and 255).
- ``QUERY_ROWS``: rows one query of the fast path reads, sliced zero-copy into files of
  ``FILE_ROWS``. Measured (bench/defaults.py, 1M rows x 51 columns, one run, medians of 3):
  10,000 rows a query cost 15.0 s of client CPU, 50,000 cost 13.8 s, 0.91x of the best
  combination found (100,000 x 2 chunks), at 371 MiB peak against 216 MiB.
"""

import os

FILE_ROWS = 50_000
QUERY_ROWS = 50_000
#: rows one query of the pymysql path reads at most: they are Python tuples until converted, about
#: 6 KB a row of the 51-column settlement table (1M rows, one run each: files of 10,000 rows read
#: in one query each peaked at 172 MiB, files of 50,000 at 417 MiB, in five queries 245 MiB). A
#: file of more rows is read in several queries of whole pages (``sources.mysql_rows.page_rows``).
PYMYSQL_QUERY_ROWS = 10_000

#: BACKUP_NUM_CHUNKS=auto: connections at most (the single Parquet encoder is the limit beyond)
MAX_AUTO_CHUNKS = 4


def auto_chunks(cpus: int | None = None) -> int:
    """BACKUP_NUM_CHUNKS=auto (the default): one connection per CPU this process may run on, at
    most ``MAX_AUTO_CHUNKS``. Each connection keeps a connectorx decoder (and, on a local server,
    a server thread) busy, and holds one query's rows. Measured on 2 CPUs (bench/defaults.py, 1M
    settlement rows, two runs of 3 rounds, one run each way per round): 4 connections 116,695 to
    145,436 rows/s at 312-346 MiB peak, 2 connections 112,649 to 156,312 rows/s at 241-261 MiB;
    equal speed, 75 MiB less. With 8 or 32 CPUs, 4 connections already feed the one encoder
    (README, "Chunks on bigger machines")."""
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))  # a CPU set (taskset, a container's cpuset) counts
        except (AttributeError, OSError):  # not Linux
            cpus = os.cpu_count() or 1
    return max(1, min(MAX_AUTO_CHUNKS, cpus))
