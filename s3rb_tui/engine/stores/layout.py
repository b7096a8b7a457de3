"""Key naming and parsing for the object store (the manual's layout, kept exactly).

``<S3_INCREMENTAL_PATH><schema.table>/year=YYYY/month=MM/day=DD/hour=HH/<YYYY-MM-DD_HH-MM-SS>_batch_NNNN.parquet``
partitioned by the run's start time (UTC), plus one watermark document and one lock lease per table:
``watermark/<schema.table>.json`` and ``watermark/locks/<schema.table>.lock``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from s3rb_tui.engine.core.table_names import TableRef

if TYPE_CHECKING:
    from s3rb_tui.engine.stores.base import ObjectInfo, ObjectStore

WATERMARK_PREFIX = "watermark/"
LOCK_PREFIX = "watermark/locks/"
STAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"
DATA_SUFFIX = ".parquet"  # every data file's key ends so

_DATA_KEY = re.compile(
    r"^(?P<prefix>.*?)(?P<table>[A-Za-z0-9_$]{1,64}\.[A-Za-z0-9_$]{1,64})/"
    r"year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/hour=(?P<h>\d{2})/"
    r"(?P<stamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_batch_(?P<batch>\d{4,})\.parquet$"
)


@dataclass(frozen=True, order=True)
class FilePosition:
    """Where a data file stands in a table's history: run start, then batch number."""

    run_stamp: str  # YYYY-MM-DD_HH-MM-SS
    batch: int

    def __str__(self) -> str:
        return f"{self.run_stamp}_batch_{self.batch:04d}"


@dataclass(frozen=True)
class DataKey:
    key: str
    table: str
    position: FilePosition

    @property
    def run_start(self) -> dt.datetime:
        return stamp_to_datetime(self.position.run_stamp)


def normalize_prefix(prefix: str) -> str:
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def run_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime(STAMP_FORMAT) if moment.tzinfo else moment.strftime(STAMP_FORMAT)


def stamp_to_datetime(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=dt.timezone.utc)


def table_prefix(incremental_path: str, table: TableRef) -> str:
    """The table's own prefix; always ends with '/' so ``a.b`` never matches ``a.bc``."""
    return f"{normalize_prefix(incremental_path)}{table.full_name}/"


def data_key(incremental_path: str, table: TableRef, run_start: dt.datetime, batch: int) -> str:
    t = run_start.astimezone(dt.timezone.utc) if run_start.tzinfo else run_start
    return (
        f"{table_prefix(incremental_path, table)}year={t:%Y}/month={t:%m}/day={t:%d}/hour={t:%H}/"
        f"{run_stamp(t)}_batch_{batch:04d}.parquet"
    )


def parse_data_key(key: str) -> DataKey | None:
    m = _DATA_KEY.match(key)
    if not m:
        return None
    stamp = m.group("stamp")
    # The partition folders must agree with the file's own stamp.
    if stamp[:13].replace("-", "").replace("_", "") != f"{m['y']}{m['m']}{m['d']}{m['h']}":
        return None
    return DataKey(key=key, table=m.group("table"), position=FilePosition(stamp, int(m.group("batch"))))


def watermark_key(table: TableRef) -> str:
    return f"{WATERMARK_PREFIX}{table.full_name}.json"


def lock_key(table: TableRef) -> str:
    return f"{LOCK_PREFIX}{table.full_name}.lock"


def table_data_files(store: "ObjectStore", incremental_path: str, table: TableRef) -> Iterator[tuple[DataKey, "ObjectInfo"]]:
    """Every data file of ``table`` under its own prefix, in key order (other keys are ignored)."""
    for info in store.list(table_prefix(incremental_path, table)):
        parsed = parse_data_key(info.key)
        if parsed is not None and parsed.table == table.full_name:
            yield parsed, info
