"""The Warehouse interface: DDL, exactly-once loads with a ledger, merge, views and counts.

Three dialects implement it (``postgres``, ``redshift``, ``duckdb``). The statements they share
are built in ``sql.py``; each dialect only differs in how files get into a table (``COPY … FROM
STDIN``, ``COPY … MANIFEST``, or DuckDB reading the Parquet directly) and in small spellings.

Exactly once: every batch of files is loaded in ONE transaction that also inserts the files'
ledger rows (``<schema>.s3rb_load_ledger``); files already in the ledger are never loaded again,
and a batch that did not commit left nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses.parquet_types import ParquetType

LEDGER_TABLE = "s3rb_load_ledger"
FILES_PER_BATCH = 16
ROWS_PER_BATCH = 1_000_000
SEQ_COLUMN = "_s3rb_seq"  # load order inside a staging table: file in the committed history, then row in the file


def ledger_match(folded: bool, value_sql: str) -> str:
    """The ledger's rows of one target. ``folded`` (Redshift): compared in lower case, as Redshift
    folds the names themselves, so a row written under another spelling of the same schema or
    table (``Analytics.Orders``) still counts."""
    return f'LOWER("table_name") = {value_sql}' if folded else f'"table_name" = {value_sql}'


class LedgerEntry(NamedTuple):
    """One row of the load ledger: a file loaded into a warehouse table (0 rows: superseded), or a
    history load's row adjustment (``ADJUSTMENT_SUFFIX``)."""
    key: str
    rows: int
    run_id: str


#: the ledger row of a history load (an append table's repair batch, ``LoadSpec.history``) beside
#: its files' rows: key ``<first file key>#adjustment``, rows = how much the table's row count moved
#: minus the rows the files brought (negative: the versions the batch replaced). Written in the
#: batch's transaction, so ``validate-counts`` knows exactly how many rows an append table holds
#: fewer than its files loaded; no file key ends so (data keys end in ``.parquet``).
ADJUSTMENT_SUFFIX = "#adjustment"


def adjustment_row(files: Sequence["LoadFile"], table_name: str, before: int, after: int, copied: int,
                   now: Any, run_id: str, ledger_rows: int | None = None) -> list[tuple]:
    """The history load's adjustment ledger row: the rows the ledger counts as loaded that the table
    does not hold on their account: versions the batch replaced (the table moved by less than
    ``copied``), and the rows a repair batch restored after they were lost outside the pipeline
    (``LoadFile.restored``: counted once when first loaded, again now; at most what ``ledger_rows``,
    the ledger's count before this batch, exceeds the table by). None when that is 0."""
    restored = min(sum(f.restored for f in files), max(0, ledger_rows - before)) if ledger_rows is not None else 0
    moved = after - before - copied - restored
    return [(files[0].key + ADJUSTMENT_SUFFIX, table_name, moved, now, run_id)] if moved and files else []


@dataclass(frozen=True)
class Target:
    """A warehouse table: ``schema.name``."""

    schema: str
    name: str

    @property
    def sql(self) -> str:
        return f"{quote_sql(self.schema)}.{quote_sql(self.name)}"

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def sibling(self, name: str) -> "Target":
        return Target(self.schema, name)


DELETED_SUFFIX = "_deleted"


def deleted_table_name(target: Target) -> Target:
    """``<table>_deleted``: the keys an append table's repair recorded as deleted at the source
    (``sql_views``). The suffix is kept whole within 63 bytes, as ``latest_view_name`` keeps its own."""
    return target.sibling(target.name[: 63 - len(DELETED_SUFFIX)] + DELETED_SUFFIX)


@dataclass(frozen=True)
class LoadFile:
    """One committed data file: its store key, rows, columns and their Parquet types (from the footer)."""

    key: str
    rows: int
    size: int
    columns: tuple[str, ...]
    types: tuple[ParquetType, ...] = ()
    nul_text: tuple[str, ...] = ()  # text columns holding NUL, as the backup marked them (``values.mark_nul_text``)
    #: a repair batch's keys to delete from the warehouse in the same transaction (``engine/ops/repair.py``)
    delete_keys: tuple[tuple, ...] = ()
    repair: bool = False  # a repair batch (its footer says so): an append table loads it alone, as history
    #: rows of a repair batch for keys the warehouse had lost (verify's "missing") that the ledger
    #: already counts: loaded before, deleted outside the pipeline, loaded again (at most the
    #: table's shortfall against its ledger, ``ops.repair``); the history load's adjustment takes them off
    restored: int = 0


@dataclass(frozen=True)
class LoadSpec:
    """How a batch goes in: ``append`` (as is), ``merge`` (the version per key extracted last replaces the old),
    ``replace`` (the table's content becomes the batch's rows)."""

    mode: str
    keys: tuple[str, ...] = ()
    cursor: str | None = None
    key_match: tuple[str, ...] = ()  # per key: how MySQL compares it (``collations.key_matching``)
    delete_keys: tuple[tuple, ...] = ()  # merge: keys deleted in the load's transaction (repair batches)
    #: an append table's repair batch, staged like a merge (``sql_views.history_statements``): its
    #: versions replace only the versions not older than them, ``delete_keys`` go to ``<table>_deleted``
    history: bool = False
    #: history: the rows the table's ledger counts (files and adjustments), read before the
    #: transaction under the table's lock; what a repair batch's restored rows may take off is at
    #: most its excess over the table (a rebuild reloads the lost rows first: nothing then)
    ledger_rows: int | None = None


@dataclass(frozen=True)
class BatchLimits:
    """How many files go into one load transaction (None: no limit of that kind). PostgreSQL and
    DuckDB stream every file through this process: a few files or a million rows per batch. Redshift
    reads them from S3 itself: a byte budget (REDSHIFT_LOAD_BATCH_MB), so that one COPY gives every
    slice files to read and the number of commits stays small."""

    max_files: int | None = FILES_PER_BATCH
    max_rows: int | None = ROWS_PER_BATCH
    max_bytes: int | None = None


@dataclass
class BatchOutcome:
    rows: int
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in the ledger already (another run got there first)
    warnings: list[str] = field(default_factory=list)  # values changed so the warehouse could hold them (``values``)


class Warehouse(ABC):
    dialect: str  # postgres | redshift | duckdb
    schema: str  # REDSHIFT_SCHEMA: where targets and the ledger live
    batch_limits: BatchLimits = BatchLimits()
    ledger_folded: bool = False  # the ledger's table names are compared in lower case (Redshift)

    # --- connection ---------------------------------------------------------------------
    @abstractmethod
    def version(self) -> str:
        """Server version (also a connectivity check)."""

    @abstractmethod
    def describe(self) -> str:
        """Where it is, for messages: dialect, host:port, database, user (never the password)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- names ----------------------------------------------------------------------------
    def fold(self, name: str) -> str:
        """A column name as the warehouse stores it (Redshift folds identifiers to lower case)."""
        return name

    def ledger_name(self, target: Target) -> str:
        """The ledger's ``table_name`` for ``target``."""
        return target.full_name

    @property
    def ledger(self) -> Target:
        return Target(self.schema, LEDGER_TABLE)

    # --- DDL --------------------------------------------------------------------------------
    @abstractmethod
    def ensure_schema_and_ledger(self) -> None:
        """Create the target schema and the ledger table when missing (idempotent)."""

    @abstractmethod
    def table_columns(self, target: Target) -> dict[str, str] | None:
        """{column: type as the warehouse spells it}, in table order; None when the table is missing."""

    @abstractmethod
    def spelled_types(self, columns: list[tuple[str, str]]) -> dict[str, str]:
        """How the warehouse spells our DDL types (asked from the warehouse itself, so comparisons
        with ``table_columns`` need no second mapping)."""

    @abstractmethod
    def create_table(self, target: Target, columns: list[tuple[str, str]], distkey: str | None = None, sortkey: tuple[str, ...] = ()) -> None: ...

    @abstractmethod
    def add_column(self, target: Target, column: str, type_sql: str, default: str | None = None) -> None:
        """Add a column; ``default`` (a SQL literal) fills the rows already there."""

    # --- ledger and loads ---------------------------------------------------------------
    @abstractmethod
    def ledger_entries(self, target: Target) -> list[LedgerEntry]:
        """Every file loaded into ``target``, oldest first."""

    @abstractmethod
    def load_batch(self, target: Target, files: list[LoadFile], spec: LoadSpec, run_id: str,
                   progress: Callable[[int], None] | None = None, ledger_only: Sequence[LoadFile] = ()) -> BatchOutcome:
        """Load ``files`` and insert their ledger rows in one transaction. ``ledger_only`` files are
        recorded as superseded (0 rows) in the same transaction (older snapshot runs)."""

    # --- views and counts --------------------------------------------------------------
    @abstractmethod
    def execute_ddl(self, statements: list[str]) -> None:
        """Run statements in one transaction (views)."""

    @abstractmethod
    def scalar(self, sql: str) -> Any: ...

    def count_rows(self, target: Target) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {target.sql}"))

    def forget_table(self, target: Target) -> None:
        """Drop ``target`` and its ``<table>_deleted`` (CASCADE: its views go too; loads recreate them;
        the repair batches in the store record the deletes again when they load) and delete its ledger
        rows, in one transaction. ``ledger_name`` is validated identifiers and a dot: a safe literal."""
        self.execute_ddl([f"DROP TABLE IF EXISTS {target.sql} CASCADE",
                          f"DROP TABLE IF EXISTS {deleted_table_name(target).sql} CASCADE",
                          f"DELETE FROM {self.ledger.sql} WHERE {ledger_match(self.ledger_folded, repr(self.ledger_name(target)))}"])

    def count_distinct(self, target: Target, keys: tuple[str, ...]) -> int:
        cols = ", ".join(quote_sql(self.fold(k)) for k in keys)
        return int(self.scalar(f"SELECT COUNT(*) FROM (SELECT DISTINCT {cols} FROM {target.sql}) d"))
