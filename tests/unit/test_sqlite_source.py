"""SQLiteSource (the demo's source): declared types onto the one table of type rules, discovery,
keyset extraction over rows sharing one timestamp (every row exactly once, resumable at any batch
edge), exact DECIMALs and datetimes, the schema name, and errors."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import UnsupportedType, warehouse_type
from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.sources.sqlite import SQLiteSource, parse_declared_type
from s3rb_tui.engine.core.table_names import TableRef

TS = "2025-07-28 10:00:00.000000"


@pytest.mark.parametrize(
    ("declared", "data_type", "precision", "scale", "char_length", "unsigned"),
    [
        ("DECIMAL(10,4)", "decimal", 10, 4, None, False),
        ("decimal(15, 2)", "decimal", 15, 2, None, False),
        ("NUMERIC", "decimal", 10, 0, None, False),
        ("VARCHAR(64)", "varchar", None, None, 64, False),
        ("DATETIME", "datetime", 0, None, None, False),
        ("DATETIME(6)", "datetime", 6, None, None, False),
        ("BIGINT", "bigint", None, None, None, False),
        ("BIGINT UNSIGNED", "bigint", None, None, None, True),
        ("TINYINT", "tinyint", None, None, None, False),
        ("INTEGER", "int", None, None, None, False),
        ("TEXT", "text", None, None, None, False),
        ("DATE", "date", 0, None, None, False),
        ("BLOB", "blob", None, None, None, False),
        ("REAL", "double", None, None, None, False),
    ],
)
def test_declared_types_become_mysql_like_columns(declared, data_type, precision, scale, char_length, unsigned):
    c = parse_declared_type("c", declared)
    assert (c.data_type, c.precision, c.scale, c.char_length, c.unsigned) == (data_type, precision, scale, char_length, unsigned)


def test_declared_types_use_the_one_type_table():
    assert warehouse_type(parse_declared_type("p", "DECIMAL(10,4)"), "duckdb") == "DECIMAL(10,4)"
    assert warehouse_type(parse_declared_type("s", "VARCHAR(64)"), "redshift") == "VARCHAR(256)"
    assert warehouse_type(parse_declared_type("t", "DATETIME"), "postgres") == "TIMESTAMP"


@pytest.mark.parametrize("declared", ["", "GEOGRAPHY", "VARCHAR(abc)"])
def test_undeclared_or_unknown_types_are_refused(declared):
    with pytest.raises(UnsupportedType):
        parse_declared_type("c", declared)


def _db(path: Path, rows: list[tuple]) -> None:
    db = sqlite3.connect(path)
    db.execute(
        'CREATE TABLE "orders" ("ID" BIGINT NOT NULL PRIMARY KEY, "amount" DECIMAL(15,4), "note" VARCHAR(32), '
        '"flag" TINYINT, "update_at" DATETIME)'
    )
    db.executemany('INSERT INTO "orders" VALUES (?, ?, ?, ?, ?)', rows)
    db.execute('CREATE TABLE "plain" ("name" TEXT, "n" INT)')
    db.executemany('INSERT INTO "plain" VALUES (?, ?)', [(f"r{i}", i) for i in range(7)])
    db.commit()
    db.close()


@pytest.fixture
def source(tmp_path: Path):
    # 120 rows share one timestamp; 30 are later; IDs are not in timestamp order.
    rows = [(1000 - i, str(Decimal(i) / 7)[:12], f"n{i}", i % 2, TS) for i in range(120)]
    rows += [(5000 + i, "12345678901.2345", None, None, f"2025-07-28 10:00:{i:02d}.500000") for i in range(30)]
    _db(tmp_path / "src.sqlite", rows)
    with SQLiteSource(tmp_path / "src.sqlite", schema="settlement") as s:
        yield s


def test_discovery(source):
    schema = source.discover(TableRef("settlement", "orders"))
    assert schema.primary_key == ("ID",)
    assert schema.cursor_column == "update_at"
    assert [c.data_type for c in schema.columns] == ["bigint", "decimal", "varchar", "tinyint", "datetime"]
    assert schema.column("ID").nullable is False and schema.column("note").nullable is True
    assert [t.ref.name for t in source.list_tables("settlement")] == ["orders", "plain"]
    assert source.list_tables("other") == []


def test_other_schema_or_missing_table_is_not_found(source):
    with pytest.raises(JobError, match="not found"):
        source.discover(TableRef("sakila", "orders"))
    with pytest.raises(JobError, match="not found"):
        source.discover(TableRef("settlement", "nope"))


def _ids(batches) -> list[int]:
    return [row["ID"] for b in batches for row in b.batch.to_pylist()]


@pytest.mark.parametrize("batch_size", [1, 7, 50, 119, 120, 121, 1000])
def test_keyset_takes_rows_sharing_a_timestamp_exactly_once(source, batch_size):
    schema = source.discover(TableRef("settlement", "orders"))
    ids = _ids(source.read_batches(schema, Position(), None, batch_size))
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 150
    assert ids[:120] == sorted(ids[:120])  # (update_at, ID) order within the tie


def test_resuming_from_any_batch_edge_continues_exactly(source):
    schema = source.discover(TableRef("settlement", "orders"))
    all_ids = _ids(source.read_batches(schema, Position(), None, 1000))
    for batch in source.read_batches(schema, Position(), None, 17):
        done = all_ids.index(batch.batch.to_pylist()[-1]["ID"]) + 1
        rest = _ids(source.read_batches(schema, batch.end, None, 13))
        assert rest == all_ids[done:]
        assert source.count(schema, batch.end) == len(all_ids) - done


def test_upper_bound_and_counts(source):
    schema = source.discover(TableRef("settlement", "orders"))
    bound = dt.datetime(2025, 7, 28, 10, 0, 9, 500000)
    ids = _ids(source.read_batches(schema, Position(), bound, 40))
    # DATETIME is second precision: the run stops at the last complete second before the bound
    # (10:00:08), so the tie plus 00.5 .. 07.5; 08.5 and 09.5 are the next run's
    assert len(ids) == 120 + 8
    assert source.count(schema, Position(), bound) == 128
    assert source.count(schema) == 150


def test_values_arrive_exact(source):
    schema = source.discover(TableRef("settlement", "orders"))
    rows = [r for b in source.read_batches(schema, Position(), None, 500) for r in b.batch.to_pylist()]
    late = [r for r in rows if r["ID"] >= 5000]
    assert {r["amount"] for r in late} == {Decimal("12345678901.2345")}
    assert late[0]["update_at"] == dt.datetime(2025, 7, 28, 10, 0, 0, 500000)
    assert rows[0]["update_at"] == dt.datetime(2025, 7, 28, 10, 0, 0)
    assert str(schema.arrow_schema().field("amount").type) == "decimal128(15, 4)"


def test_random_decimals_come_back_exactly(tmp_path):
    rng = random.Random(11)
    values = [Decimal(rng.randrange(-10**15 + 1, 10**15)).scaleb(-4) for _ in range(2000)]
    values += [Decimal("0.0000"), Decimal("99999999999.9999"), Decimal("-0.0001"), Decimal("4.5000")]
    db = sqlite3.connect(tmp_path / "d.sqlite")
    db.execute('CREATE TABLE "money" ("ID" INTEGER PRIMARY KEY, "v" DECIMAL(15,4), "update_at" DATETIME)')
    db.executemany('INSERT INTO "money" VALUES (?, ?, ?)', [(i, str(v), TS) for i, v in enumerate(values)])
    db.commit()
    db.close()
    with SQLiteSource(tmp_path / "d.sqlite", schema="settlement") as s:
        schema = s.discover(TableRef("settlement", "money"))
        got = [r["v"] for b in s.read_batches(schema, Position(), None, 300) for r in b.batch.to_pylist()]
    assert got == values


def test_unparseable_datetime_becomes_null_and_is_counted(tmp_path):
    _db(tmp_path / "s.sqlite", [(1, "1.5", "a", 0, TS), (2, "2.5", "b", 0, "not a date")])
    with SQLiteSource(tmp_path / "s.sqlite", schema="settlement") as s:
        schema = s.discover(TableRef("settlement", "orders"), cursor_override="update_at")
        batches = list(s.read_batches(schema, Position(), None, 10))
    values = [r["update_at"] for b in batches for r in b.batch.to_pylist()]
    assert values.count(None) == 1
    assert sum(b.stats.total_zero_dates for b in batches) == 1


def test_table_without_key_is_read_as_a_snapshot(source):
    schema = source.discover(TableRef("settlement", "plain"))
    assert not schema.incremental
    rows = [r for b in source.read_batches(schema, Position(), None, 3) for r in b.batch.to_pylist()]
    assert sorted(r["n"] for r in rows) == list(range(7))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(JobError, match="not found"):
        SQLiteSource(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_now_is_naive_utc(source):
    now = source.now()
    assert now.tzinfo is None
    assert abs((dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - now).total_seconds()) < 5
