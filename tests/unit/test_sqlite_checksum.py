"""The demo's SQLite source spells each value's canonical text (``sources/sqlite_checksum.py``, through
the functions every SQLiteSource connection registers) as DuckDB spells the value the backup read
and loaded: equal when equal, different when one value changes by one unit, one microsecond, NULL
vs '', or a trailing space. The SQLite rows go through SQLiteSource.read_keys (the type rules, as a
backup reads them) into an in-memory DuckDB table; both sides' canonical field texts are compared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from s3rb_tui.engine.core.checksum import Field, canonical_kind, text_hash
from s3rb_tui.engine.core.table_names import TableRef, quote_sql
from s3rb_tui.engine.sources.sqlite import SQLiteSource
from s3rb_tui.engine.sources.sqlite_checksum import SQLiteCanonical
from s3rb_tui.engine.warehouses.checksum_duckdb import DuckDBCanonical

DDL = ('CREATE TABLE t ("ID" BIGINT NOT NULL PRIMARY KEY, amount DECIMAL(15,4), qty INT, note VARCHAR(32), body TEXT, '
       "at DATETIME, at6 DATETIME(6), day DATE, raw VARBINARY(8))")
ROWS = [
    (1, 1.5, 3, "", "NULL", "2025-07-28 10:00:00.000000", "2025-07-28 10:00:00.000001", "2025-07-28", b"\x00\xff"),
    (2, 12345678901.2345, -7, None, "a ", "2025-07-28 10:00:00.123400", "2025-07-28 10:00:00", "2024-02-29", None),
    (3, "0.0001", 0, "ü€", None, "2025-07-28 10:00:00", None, None, b""),
]


def _texts(fields, canon, conn_sql) -> list[list[str]]:
    return [list(r) for r in conn_sql(f'SELECT {", ".join(canon.field(f, quote_sql(f.name)) for f in fields)} FROM t ORDER BY "ID"')]


@pytest.fixture
def sides(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(DDL)
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    source = SQLiteSource(path, "demo")
    schema = source.discover(TableRef("demo", "t"))
    batches = list(source.read_keys(schema, [[r[0]] for r in ROWS]))
    wh = duckdb.connect()
    wh.register("loaded", pa.Table.from_batches(batches))
    wh.execute("CREATE TABLE t AS SELECT * FROM loaded")
    fields = [Field(c, canonical_kind(c, "duckdb")) for c in schema.columns]
    yield source, wh, fields
    source.close()
    wh.close()


def test_equal_values_have_equal_canonical_text_and_hash(sides):
    source, wh, fields = sides
    src = _texts(fields, SQLiteCanonical("duckdb"), lambda sql: source.conn.execute(sql).fetchall())
    dst = _texts(fields, DuckDBCanonical(), lambda sql: wh.execute(sql).fetchall())
    assert src == dst
    assert [text_hash("|".join(r)) for r in src] == [text_hash("|".join(r)) for r in dst]
    assert src[0][3] == "0:" and src[1][3] == "N" and src[0][4] == "4:NULL"  # '' , NULL and 'NULL' differ


@pytest.mark.parametrize(("update", "column"), [
    ("amount = amount + 0.0001", 1), ("qty = qty + 1", 2), ("note = note || ' '", 3), ("note = NULL", 3),
    ("at = '2025-07-28 10:00:00.000001'", 5), ("at6 = '2025-07-28 10:00:00.000002'", 6), ("day = '2025-07-27'", 7),
])
def test_a_value_changed_by_one_unit_differs_in_that_column_only(sides, update, column):
    source, wh, fields = sides
    source.conn.execute(f'UPDATE t SET {update} WHERE "ID" = 1')
    src = _texts(fields, SQLiteCanonical("duckdb"), lambda sql: source.conn.execute(sql).fetchall())
    dst = _texts(fields, DuckDBCanonical(), lambda sql: wh.execute(sql).fetchall())
    assert [i for i, (a, b) in enumerate(zip(src[0], dst[0])) if a != b] == [column] and src[1:] == dst[1:]
