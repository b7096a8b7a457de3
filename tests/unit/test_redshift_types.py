"""The one Parquet -> Redshift compatibility table, on footers pyarrow writes (every type our rules
produce, and the ones users reported breaking COPY)."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.type_rules import TYPE_RULES, Column, warehouse_type
from s3rb_tui.engine.warehouses.base import BatchLimits, LoadFile
from s3rb_tui.engine.ops.load import batches
from s3rb_tui.engine.warehouses.parquet_types import footer_types
from s3rb_tui.engine.warehouses.redshift_types import minimal_decimal_bytes, verdict


def types_of(**arrays):
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf)
    buf.seek(0)
    return dict(zip(arrays, footer_types(pq.ParquetFile(buf).schema)))


# one column per type rule, as the rules write it and as the rules create it in Redshift
EVERY_RULE = [
    Column("tiny", "tinyint"), Column("tiny_u", "tinyint", unsigned=True), Column("small", "smallint"),
    Column("small_u", "smallint", unsigned=True), Column("med", "mediumint"), Column("int_s", "int"),
    Column("int_u", "int", unsigned=True), Column("big", "bigint"), Column("big_u", "bigint", unsigned=True),
    Column("dec", "decimal", precision=10, scale=4), Column("dec38", "decimal", precision=38, scale=10),
    Column("fl", "float"), Column("dbl", "double"), Column("bit1", "bit", precision=1), Column("bit64", "bit", precision=64),
    Column("yr", "year"), Column("vc", "varchar", char_length=20), Column("tx", "longtext"), Column("en", "enum"),
    Column("uu", "uuid"), Column("js", "json"), Column("d", "date"), Column("dtm", "datetime"), Column("ts", "timestamp"),
    Column("tm", "time"), Column("bl", "blob", char_length=65535), Column("geo", "geometry"),
]


def test_every_type_rule_writes_what_its_redshift_column_loads_from_parquet():
    assert {c.rule.name for c in EVERY_RULE} == {r.name for r in TYPE_RULES}
    arrays = {c.name: pa.array([None], c.rule.arrow(c)) for c in EVERY_RULE}
    found = types_of(**arrays)
    refused = {c.name: (str(found[c.name]), warehouse_type(c, "redshift")) for c in EVERY_RULE
               if verdict(found[c.name], warehouse_type(c, "redshift")).how != "parquet"}
    assert refused == {}


def test_unsigned_64_bit_files_of_earlier_versions_go_through_the_csv_method():
    t = types_of(u=pa.array([2**64 - 1], pa.uint64()))["u"]
    assert str(t) == "INT64 UINT_64"
    assert verdict(t, "numeric(20,0)").how == "csv"
    refused = verdict(t, "bigint")
    assert (refused.how, refused.reason) == ("refuse", "no Redshift column accepts an unsigned 64-bit Parquet integer")


def test_decimals_need_their_precision_scale_and_minimal_width():
    assert [minimal_decimal_bytes(p) for p in (1, 9, 18, 20, 29, 38)] == [1, 4, 8, 9, 13, 16]
    d = types_of(d=pa.array([1], pa.decimal128(20, 0)))["d"]
    assert (str(d), verdict(d, "numeric(20,0)").how) == ("FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)", "parquet")
    # a column widened by hand: the values fit, the physical width does not ("invalid type length")
    assert verdict(d, "numeric(25,2)").how == "csv"
    assert verdict(d, "numeric(10,0)").how == "refuse"
    assert verdict(d, "bigint").how == "refuse"


def test_timestamps_in_nanoseconds_and_time_are_refused_with_the_reason():
    found = types_of(ns=pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("ns")), tm=pa.array([dt.time(1)], pa.time64("us")),
                     us=pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us", tz="UTC")))
    assert verdict(found["ns"], "timestamp without time zone") == verdict(found["ns"], "TIMESTAMP")
    assert verdict(found["ns"], "timestamp").reason == "Redshift misreads nanosecond timestamps"
    assert verdict(found["tm"], "timestamp").reason == "Redshift cannot load TIME from Parquet"
    assert verdict(found["us"], "timestamp with time zone").how == "parquet"
    assert verdict(found["us"], "timestamp without time zone").how == "refuse"  # UTC-adjusted into a zone-less column


@pytest.mark.parametrize("column_type", ["integer", "bigint", "numeric(12,0)"])
def test_integers_into_a_wider_column_load_by_the_csv_method(column_type):
    t = types_of(i=pa.array([1], pa.int16()))["i"]
    assert verdict(t, column_type).how == ("parquet" if column_type == "integer" else "csv")


def test_redshift_batches_are_cut_by_bytes_not_by_16_files():
    files = [LoadFile(f"k{i}", rows=10_000, size=1_500_000, columns=("a",)) for i in range(10_000)]  # 100M rows at 1.5 MB a file
    assert len(batches(files)) == 625  # PostgreSQL/DuckDB: 16 files a transaction
    redshift = batches(files, BatchLimits(max_files=None, max_rows=None, max_bytes=2048 << 20))
    assert [len(b) for b in redshift[:2]] == [1431, 1431] and len(redshift) == 7
    assert batches([LoadFile("big", 1, 5 << 30, ("a",))], BatchLimits(None, None, 1 << 30))[0][0].key == "big"
