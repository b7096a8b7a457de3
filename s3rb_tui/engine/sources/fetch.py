"""Fetch backends: how ``MySQLSource``'s reads travel from the server into Arrow batches.

``MySQLSource`` owns what a read *is*: its connection, discovery, the clock, counts and the keyset
rules (``sources/keyset.py``: which rows come after a position, up to which bound, in which order).
A fetch backend (a parameter of the source, as dlt's SQL source takes ``backend=``) owns how the
rows of those queries travel: ``PyMySQLRows`` (``sources/mysql_rows.py``) streams them through
pymysql and converts Python values; ``ConnectorXArrow`` (``sources/mysql_arrow.py``) has Rust
decode them into Arrow, in parallel stripes. Both see the source only through ``MySQLSession``,
so a backend never reaches into the source's private state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator, Protocol

import pymysql.cursors

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.sources.base import InitialScan, Position, SourceBatch


class MySQLSession(Protocol):
    """What a backend may use of its source. ``run``/``query`` are serialised by one lock: reader
    threads share the source's one pymysql connection for SQL rendering and stripe bounds."""

    host: str
    port: int
    user: str
    password: str
    attempts: int  # tries of a read after a transient error (1 + BACKUP_RETRY_ATTEMPTS)
    log: Callable[..., None]

    def run(self, what: str, fn: Callable[[pymysql.connections.Connection], Any]) -> Any: ...

    def query(self, sql: str, params: Any = None) -> list[tuple]: ...

    def render(self, sql: str, params: list[Any]) -> str: ...

    def scrub(self, text: str) -> str: ...

    def driver_error(self, e: Exception) -> JobError: ...

    def abandon(self, cur: pymysql.cursors.SSCursor) -> None: ...

    def scan_end(self, schema: TableSchema, scan: InitialScan) -> Position: ...


class FetchBackend(ABC):
    """Reads the rows of one ``read_batches`` call (the batch size already checked)."""

    #: the extraction path's name, as the backup's run record and ``--extract-engine`` say it
    path: str
    #: connections one read keeps open at once (``--dry-run`` says it)
    connections: int = 1

    @abstractmethod
    def read(self, session: MySQLSession, schema: TableSchema, start: Position, upper_bound: Any, batch_size: int,
             limit: int | None) -> Iterator[SourceBatch]:
        """Batches after ``start`` (incremental: keyset pages or an initial scan's key pages) or the
        whole table (snapshots), each ending at the position after its last row."""
