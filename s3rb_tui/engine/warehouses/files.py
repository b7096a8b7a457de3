"""Reading committed Parquet files from the store, and turning them into CSV text for COPY.

Files are streamed row group by row group (``iter_batches``), so memory stays bounded by one
batch whatever the file size. The CSV is what PostgreSQL's ``COPY … CSV`` (and Redshift's CSV
method) reads: NULL is an unquoted empty field, an empty string is ``""``, binary columns are
hex (``\\x…`` for PostgreSQL bytea), everything else as Arrow writes it (ISO dates and times,
exact decimals, ``Z`` on UTC timestamps).
"""

from __future__ import annotations

import json

import io
import os
import queue
import tempfile
import threading
from typing import Callable, Iterator, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.memory import release_freed_memory
from s3rb_tui.engine.stores.base import ObjectStore
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses.base import LoadFile
from s3rb_tui.engine.warehouses.parquet_types import footer_types
from s3rb_tui.engine.warehouses.values import nul_text_columns

READ_BATCH_ROWS = 65536
COPY_BATCH_ROWS = 8192  # rows per CSV chunk sent to COPY (a few MB: small enough to pipeline)
PREFETCH_CHUNKS = 4  # chunks encoded ahead of the socket (bounds memory: about 4 x a few MB)
T = TypeVar("T")


def footer(store: ObjectStore, key: str, size: int = 0) -> LoadFile:
    with store.open_input(key) as f:
        meta = pq.ParquetFile(f).metadata
        names = tuple(meta.schema.to_arrow_schema().names)
        return LoadFile(key=key, rows=meta.num_rows, size=size, columns=names, types=footer_types(meta.schema),
                        nul_text=nul_text_columns(meta.metadata), delete_keys=repair_deletes(meta.metadata),
                        repair=REPAIR_KEY in (meta.metadata or {}), restored=repair_restored(meta.metadata))


#: Parquet key-value metadata of a repair batch: {"deletes": [[key...]...], "reextracted": n,
#: "restored": rows of keys the warehouse had lost that its ledger already counted (``ops.repair``)}
REPAIR_KEY = b"s3rb.repair"


def repair_deletes(metadata: dict | None) -> tuple[tuple, ...]:
    """The keys a repair batch deletes (``engine/ops/repair.py``); () for every other file."""
    raw = (metadata or {}).get(REPAIR_KEY)
    return tuple(tuple(k) for k in json.loads(raw).get("deletes", [])) if raw else ()


def repair_restored(metadata: dict | None) -> int:
    """Rows a repair batch restores that the ledger already counted; 0 for every other file."""
    raw = (metadata or {}).get(REPAIR_KEY)
    return int(json.loads(raw).get("restored", 0)) if raw else 0


def arrow_schema(store: ObjectStore, key: str) -> pa.Schema:
    with store.open_input(key) as f:
        return pq.ParquetFile(f).schema_arrow


def iter_batches(store: ObjectStore, key: str, columns: list[str] | None = None, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The file's rows, one row group in memory at a time, sliced into batches of ``batch_rows``.

    (``ParquetFile.iter_batches`` keeps more than one row group alive: its memory grew with the
    file in bench/load.py; reading row group by row group stays flat.) After each row group the
    freed memory goes back to the system (``core.memory``): the reads come through Python file
    objects on the CSV encoder's thread, and without it a sync to PostgreSQL of 50,000-row files
    grew to 396 MiB instead of 254-271.
    """
    with store.open_input(key) as f:
        pf = pq.ParquetFile(f)
        for i in range(pf.num_row_groups):
            group = pf.read_row_group(i, columns=columns)
            yield from group.to_batches(max_chunksize=batch_rows)
            del group
            release_freed_memory()


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _hex(array: pa.Array, prefix: str) -> pa.Array:
    return pa.array([None if v is None else prefix + v.hex() for v in array.to_pylist()], pa.string())


def csv_ready(batch: pa.RecordBatch, hex_prefix: str = "\\x") -> pa.RecordBatch:
    """Binary columns as hex text; the rest unchanged (Arrow's CSV writer formats them)."""
    if not any(_is_binary(f.type) for f in batch.schema):
        return batch
    arrays = [(_hex(col, hex_prefix) if _is_binary(col.type) else col) for col in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


_WRITE = pacsv.WriteOptions(include_header=False)


def csv_bytes(batch: pa.RecordBatch, hex_prefix: str = "\\x") -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(csv_ready(batch, hex_prefix), buf, _WRITE)
    return buf.getvalue()


def csv_chunks(store: ObjectStore, key: str, columns: list[str], hex_prefix: str = "\\x",
               fix: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None) -> Iterator[bytes]:
    """CSV text of the file's ``columns``; ``fix`` (``values``: what the warehouse cannot hold) is
    applied to each batch first."""
    for batch in iter_batches(store, key, columns, COPY_BATCH_ROWS):
        if batch.num_rows:
            yield csv_bytes(fix(batch) if fix is not None else batch, hex_prefix)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def refuse_null_mark(batch: pa.RecordBatch, null_mark: str, key: str, first_row: int) -> pa.RecordBatch:
    """``batch`` unchanged, after refusing (file, column, row) a text value equal to ``null_mark``,
    which a text COPY would read as NULL."""
    for name, col in zip(batch.schema.names, batch.columns):
        if _is_text(col.type) and len(col) > col.null_count:
            hits = pc.indices_nonzero(pc.fill_null(pc.equal(col, null_mark), False))
            if len(hits):
                raise JobError(f"{key}: column {name}, row {first_row + hits[0].as_py() + 1}: the text {null_mark!r} is the CSV "
                               "method's NULL mark and cannot go through it exactly; nothing of this batch was loaded",
                               "load this table with REDSHIFT_LOAD_FORMAT=parquet")
    return batch


def write_gzip_csv(store: ObjectStore, key: str, out_key: str, null_mark: str, fix: "Callable[[pa.RecordBatch], pa.RecordBatch] | None" = None) -> int:
    """The file as gzipped CSV for Redshift's CSV method, at ``out_key``; returns its size in bytes.

    NULL is ``null_mark`` unquoted; every text and binary value is quoted, so an empty string is
    ``""``, never a missing value; binary is lower-case hex (VARBYTE's text form). DuckDB writes
    it (pyarrow's CSV writer has no NULL string): Parquet row groups stream through it into a
    gzip file on disk, uploaded with ``put_file`` (multipart when large); memory stays at one
    row group (the whole file was compressed in memory before)."""
    import duckdb

    schema = arrow_schema(store, key)
    exprs = [f"lower(hex({quote_sql(f.name)})) AS {quote_sql(f.name)}" if _is_binary(f.type) else quote_sql(f.name) for f in schema]
    quoted = [quote_sql(f.name) for f in schema if _is_binary(f.type) or _is_text(f.type)]

    refused: list[JobError] = []

    def checked():
        row = 0
        for batch in iter_batches(store, key, batch_rows=COPY_BATCH_ROWS):
            try:
                yield refuse_null_mark(fix(batch) if fix else batch, null_mark, key, row)
            except JobError as e:  # DuckDB would wrap it: raised as it is below
                refused.append(e)
                raise
            row += batch.num_rows

    fd, path = tempfile.mkstemp(prefix="s3rb-csv-", suffix=".csv.gz")
    os.close(fd)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")  # one stream in, one gzip stream out: more threads only buffer more batches
        con.register("s3rb_file", pa.RecordBatchReader.from_batches(schema, checked()))
        options = ["FORMAT csv", "HEADER false", f"NULLSTR {literal_sql(null_mark)}", "COMPRESSION gzip"]
        if quoted:
            options.append(f"FORCE_QUOTE ({', '.join(quoted)})")
        try:
            con.execute(f"COPY (SELECT {', '.join(exprs)} FROM s3rb_file) TO {literal_sql(path)} ({', '.join(options)})")
        except duckdb.Error:
            if refused:
                raise refused[0] from None
            raise
        size = os.path.getsize(path)
        store.put_file(out_key, path)
        return size
    finally:
        con.close()
        os.unlink(path)


def literal_sql(value: str) -> str:
    """A standard SQL string literal (DuckDB)."""
    return "'" + value.replace("'", "''") + "'"


_DONE = object()


def prefetched(items: Iterator[T], depth: int = PREFETCH_CHUNKS) -> Iterator[T]:
    """Produce ``items`` in a worker thread, at most ``depth`` ahead of the consumer.

    Reading Parquet and writing CSV release the GIL, so the next chunk is encoded while the
    warehouse parses the previous one. An error in the worker is raised in the consumer; when the
    consumer stops early (a failed COPY), the worker stops at its next chunk.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer
            put(e)

    worker = threading.Thread(target=work, name="s3rb-csv-encoder", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=10)


class ChunkReader:
    """A file-like ``read()`` over an iterator of byte chunks (what ``copy_expert`` pulls from).

    Each ``read`` returns the next whole chunk (psycopg2 forwards any length), so no bytes are
    copied between the encoder and the socket; ``b''`` ends the COPY.
    """

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        for chunk in self._chunks:
            if chunk:
                self.bytes += len(chunk)
                return chunk
        return b""

    def readline(self, size: int = -1) -> bytes:  # psycopg2 only calls read(); present for file-likeness
        return self.read(size)
