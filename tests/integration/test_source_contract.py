"""The source contract: every source (the SQLite demo, MySQL read by pymysql with one query a
batch and with several, MySQL read by connectorx on one connection and in parallel stripes) follows the same cursor and keyset rules
(``engine/sources/keyset.py``): cursor detection, key overrides, the position after the last row
(ties, NULL cursors, resuming from it), a DATE cursor's last complete day, a snapshot's latest
cursor, ``count()``, and the batch-size check. Each test builds its table in the source's own
database, with the same DDL and rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from typing import Any, Callable, Iterator

import pymysql
import pytest

from s3rb_tui.engine.cursors.bounds import as_datetime
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.sources.base import Position, Source
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import connectorx_source
from s3rb_tui.engine.sources.mysql_rows import PyMySQLRows
from s3rb_tui.engine.sources.sqlite import SQLiteSource
from s3rb_tui.engine.core.table_names import TableRef

pytestmark = pytest.mark.integration

# pymysql-pages: the pymysql path reading each batch in several queries (at most 2 rows a query:
# batches of 4 are 2 pages, of 3 are 3 pages of 1; mysql_rows.page_rows)
SOURCES = ("sqlite", "pymysql", "pymysql-pages", "connectorx", "connectorx-stripes")


@dataclasses.dataclass
class Stand:
    """One source under test and a way to build tables in the database it reads."""

    source: Source
    schema: str
    execute: Callable[[str, list[tuple]], None]

    def table(self, ddl: str, rows: list[tuple] = (), name: str = "t") -> TableRef:  # type: ignore[assignment]
        self.execute(f"CREATE TABLE `{name}` ({ddl})", [])
        if rows:
            marks = ", ".join(["?"] * len(rows[0]))
            self.execute(f"INSERT INTO `{name}` VALUES ({marks})", list(rows))
        return TableRef(self.schema, name)


@pytest.fixture(params=SOURCES)
def stand(request: pytest.FixtureRequest, tmp_path) -> Iterator[Stand]:
    if request.param == "sqlite":
        path = tmp_path / "contract.sqlite"
        db = sqlite3.connect(path)

        def execute(sql: str, rows: list[tuple]) -> None:
            if rows:
                db.executemany(sql, rows)
            else:
                db.execute(sql)
            db.commit()

        src: Source = SQLiteSource(path, schema="contract")
        yield Stand(src, "contract", execute)
        src.close()
        db.close()
        return
    server, database = request.getfixturevalue("mysql_server"), request.getfixturevalue("mysql_db")
    conn = pymysql.connect(host=server["host"], port=server["port"], user=server["user"], password=server["password"],
                           database=database, autocommit=True, init_command="SET time_zone = '+00:00'")

    def execute_mysql(sql: str, rows: list[tuple]) -> None:
        with conn.cursor() as cur:
            if rows:
                cur.executemany(sql.replace("?", "%s"), rows)
            else:
                cur.execute(sql)

    login = (server["host"], server["port"], server["user"], server["password"])
    src = {"pymysql": lambda: MySQLSource(*login),
           "pymysql-pages": lambda: MySQLSource(*login, fetch=PyMySQLRows(query_rows=2)),
           "connectorx": lambda: connectorx_source(*login, parallel=1),
           "connectorx-stripes": lambda: connectorx_source(*login, parallel=3)}[request.param]()
    yield Stand(src, database, execute_mysql)
    src.close()
    conn.close()


def read(src: Source, ref: TableRef, start: Position = Position(), moment: Any = None, batch: int = 4, **discover):
    schema = src.discover(ref, **discover)
    batches = list(src.read_batches(schema, start, moment, batch))
    return schema, batches, [r for b in batches for r in b.batch.to_pylist()]


def moment_of(value: Any) -> dt.datetime | None:
    return None if value is None else as_datetime(value)


# --- cursor detection and key overrides ------------------------------------------------------


def test_cursor_detection_takes_the_first_candidate_of_a_cursor_type(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `update_at` VARCHAR(20), `last_update` DATETIME, PRIMARY KEY (`id`)")
    schema = stand.source.discover(ref)
    assert (schema.cursor_column, schema.primary_key) == ("last_update", ("id",))
    assert stand.source.discover(ref, cursor_override="UPDATE_AT").cursor_column == "update_at"  # any column, any case


def test_a_table_without_candidate_is_a_snapshot(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `created` DATETIME, PRIMARY KEY (`id`)")
    schema = stand.source.discover(ref)
    assert schema.cursor_column is None and not schema.incremental


def test_a_cursor_override_that_is_no_column_is_a_job_error_naming_the_table(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)")
    with pytest.raises(JobError, match=rf"{ref.full_name}: cursor column 'nope' from s3rb.toml is not a column"):
        stand.source.discover(ref, cursor_override="nope")


def test_key_override_replaces_the_primary_key_and_names_missing_columns(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `code` VARCHAR(8), `updated_at` DATETIME, PRIMARY KEY (`id`)")
    schema = stand.source.discover(ref, key_override=("CODE", "Id"))
    assert schema.primary_key == ("code", "id") and schema.order_columns == ("updated_at", "code", "id")
    with pytest.raises(JobError, match=rf"key column\(s\) nope, gone from s3rb.toml are not columns of {ref.full_name}"):
        stand.source.discover(ref, key_override=("nope", "code", "gone"))


def test_a_keyless_table_with_a_key_override_reads_incrementally(stand):
    rows = [(i, f"2024-01-01 10:00:0{i % 3}") for i in range(1, 10)]
    ref = stand.table("`n` BIGINT NOT NULL, `updated_at` DATETIME", rows)
    schema, batches, got = read(stand.source, ref, key_override=("n",))
    assert schema.incremental
    assert [r["n"] for r in got] == [n for n, _ in sorted(rows, key=lambda r: (r[1], r[0]))]


# --- the position after the last row ---------------------------------------------------------


TIES = [(i, f"2024-01-01 10:00:0{i % 5}" if i % 7 else None) for i in range(1, 31)]  # 5 cursor values, 4 NULLs


def test_every_row_once_in_keyset_order_and_each_batch_ends_at_its_last_row(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)", TIES)
    schema, batches, got = read(stand.source, ref)
    expected = sorted(TIES, key=lambda r: (r[1] is not None, r[1] or "", r[0]))  # NULL cursors first
    assert [r["id"] for r in got] == [i for i, _ in expected]
    assert all(b.batch.num_rows == 4 for b in batches[:-1])
    for b in batches:
        last = b.batch.to_pylist()[-1]
        assert b.end.key == (last["id"],)
        assert moment_of(b.end.cursor) == last["updated_at"] and b.end.nulls_done == (last["updated_at"] is not None)
        assert b.null_cursor_rows == sum(1 for r in b.batch.to_pylist() if r["updated_at"] is None)


def test_reading_from_a_batch_end_gives_exactly_the_rest_even_inside_a_tie(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)", TIES)
    schema, batches, everything = read(stand.source, ref)
    for i, b in enumerate(batches):
        _, _, rest = read(stand.source, ref, start=b.end, batch=3)
        assert [r["id"] for r in rest] == [r["id"] for r in everything[4 * (i + 1):]]
        assert stand.source.count(schema, b.end) == len(rest)


def test_integer_cursor_positions_are_integers(stand):
    rows = [(i, 100 + i // 3) for i in range(1, 20)]
    ref = stand.table("`id` BIGINT NOT NULL, `update_at` BIGINT, PRIMARY KEY (`id`)", rows)
    schema, batches, got = read(stand.source, ref, batch=5)
    assert [r["id"] for r in got] == [i for i, _ in sorted(rows, key=lambda r: (r[1], r[0]))]
    assert [b.end for b in batches][-1] == Position(cursor=106, key=(19,), nulls_done=True)


# --- the run's bound --------------------------------------------------------------------------


def test_a_date_cursor_reads_up_to_the_last_complete_day(stand):
    """The clock says 2024-03-10 10:00: rows of the 10th may still change that day, so the run
    takes the 9th and before (and the NULL cursors), and count() agrees."""
    rows = [(1, "2024-03-08"), (2, "2024-03-09"), (3, "2024-03-09"), (4, "2024-03-10"), (5, None), (6, "2024-03-11")]
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATE, PRIMARY KEY (`id`)", rows)
    schema, batches, got = read(stand.source, ref, moment="2024-03-10 10:00:00.000000", batch=2)
    assert [r["id"] for r in got] == [5, 1, 2, 3]
    assert batches[-1].end == Position(cursor="2024-03-09", key=(3,), nulls_done=True)
    assert stand.source.count(schema, Position(), "2024-03-10 10:00:00.000000") == 4
    assert stand.source.count(schema, None, "2024-03-10 00:00:00.000000") == 4  # midnight: the 9th is complete
    assert stand.source.count(schema, None, "2024-03-09 23:59:59.999999") == 2


def test_a_datetime_cursor_reads_up_to_the_last_complete_second(stand):
    rows = [(1, "2024-03-10 09:59:58"), (2, "2024-03-10 09:59:59"), (3, "2024-03-10 10:00:00")]
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)", rows)
    _, _, got = read(stand.source, ref, moment="2024-03-10 10:00:00.500000")
    assert [r["id"] for r in got] == [1, 2]


# --- snapshots, count(), batch size ----------------------------------------------------------


def test_a_snapshot_ends_at_the_latest_cursor_read_so_far(stand):
    rows = [(i, f"2024-01-0{1 + (i * 7) % 9} 10:00:00" if i != 4 else None) for i in range(1, 12)]
    ref = stand.table("`n` BIGINT, `updated_at` DATETIME", rows)  # no key: a snapshot
    schema, batches, got = read(stand.source, ref, batch=3)
    assert not schema.incremental and len(got) == len(rows)
    seen: list[dt.datetime] = []
    for b in batches:
        seen += [r["updated_at"] for r in b.batch.to_pylist() if r["updated_at"] is not None]
        assert moment_of(b.end.cursor) == max(seen) and b.end.key is None and b.end.nulls_done
        assert b.null_cursor_rows == 0


def test_count_is_every_row_or_the_window_after_a_position_up_to_the_bound(stand):
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)", TIES)
    schema = stand.source.discover(ref)
    assert stand.source.count(schema) == 30
    moment = "2024-01-01 10:00:03.000000"  # bound 10:00:02: the NULLs and three cursor values
    _, _, upto = read(stand.source, ref, moment=moment)
    expected = sum(1 for _, cursor in TIES if cursor is None or cursor <= "2024-01-01 10:00:02")
    assert stand.source.count(schema, None, moment) == stand.source.count(schema, Position(), moment) == len(upto) == expected
    after_nulls = Position(cursor=None, key=None, nulls_done=True)
    assert stand.source.count(schema, after_nulls) == 26
    assert stand.source.estimate(schema, Position(), moment).rows == len(upto)


def test_count_of_a_snapshot_ignores_positions_and_bounds(stand):
    ref = stand.table("`n` BIGINT, `updated_at` DATETIME", [(1, "2024-01-01"), (2, None), (3, "2030-01-01")])
    schema = stand.source.discover(ref)
    assert stand.source.count(schema, Position(cursor="2029-01-01 00:00:00.000000"), "2024-01-02 00:00:00.000000") == 3


@pytest.mark.parametrize("size", [0, -1])
def test_a_batch_size_below_one_is_refused_before_any_read(stand, size):
    ref = stand.table("`id` BIGINT NOT NULL, `updated_at` DATETIME, PRIMARY KEY (`id`)", TIES)
    schema = stand.source.discover(ref)
    for start in (Position(), Position(cursor="2024-01-01 10:00:00.000000", key=(5,), nulls_done=True)):
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            next(iter(stand.source.read_batches(schema, start, None, size)))
    snapshot = stand.source.discover(stand.table("`n` BIGINT", [(1,)], name="s"))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        next(iter(stand.source.read_batches(snapshot, Position(), None, size)))
