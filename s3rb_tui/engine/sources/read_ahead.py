"""The reader-thread machinery of the connectorx backend: a reader thread a page ahead of the
consumer, consecutive stripes read by a pool and yielded in order, batches re-cut to an exact
size, and the memory a converted page leaves behind handed back to the system
(``core.memory.release_freed_memory``: connectorx allocates its Arrow buffers with the C allocator
from its own threads, and without a trim the process grows with every page).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

import pyarrow as pa

from s3rb_tui.engine.sources.base import SourceBatch

_QUEUE_DEPTH = 1  # batches converted ahead of the consumer


def ordered_stripes(parallel: int, bounds: Iterator[Any], start: Any,
                    read_stripe: Callable[[Any, Any], list[SourceBatch]]) -> Iterator[SourceBatch]:
    """``read_stripe(after, through)`` for consecutive stripes (the last one open), ``parallel``
    at a time in threads, their batches yielded in order: at most ``parallel`` + 1 stripes are
    held at any time."""
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="s3rb-cx-stripe")
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
        for _ in range(parallel):
            submit_next()
        while pending:
            batches = pending.popleft().result()
            submit_next()
            yield from batches
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bounds.close()  # type: ignore[attr-defined]


def exact_batches(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
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


def read_ahead(produce: Callable[[], Iterator[Any]], on_abandon: Callable[[], None],
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
