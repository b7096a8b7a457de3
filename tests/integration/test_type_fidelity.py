"""Every type rule against real MariaDB values: extract with MySQLSource, write Parquet, read it
back, and compare with literal expectations and with what a plain pymysql query returns."""

from __future__ import annotations

import datetime as dt
import io
import struct
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from s3rb_tui.engine.core.type_rules import TYPE_RULES, ConversionStats
from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import connectorx_source
from s3rb_tui.engine.core.table_names import TableRef
from tests.support.mysql_tables import EDGE_SOURCES, JSON_DOC, LONG_TEXT, WIDE, create_edge

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
@pytest.fixture
def edge(request, mysql_server, mysql_db):
    """The edge table (tests/support/mysql_tables.py) and a source on it: pymysql, or the one named
    by ``@pytest.mark.parametrize("edge", ..., indirect=True)`` (ALL_SOURCES)."""
    conn = pymysql.connect(
        host=mysql_server["host"], port=mysql_server["port"], user=mysql_server["user"],
        password=mysql_server["password"], database=mysql_db, charset="utf8mb4", autocommit=True,
    )
    with conn.cursor() as cur:
        create_edge(cur)
    src = EDGE_SOURCES[getattr(request, "param", "pymysql")](mysql_server)
    yield conn, src, src.discover(TableRef(mysql_db, "edge"))
    src.close()
    conn.close()


#: every extraction path, and a first backup's initial scan on both (the tests marked with it run on each)
ALL_SOURCES = pytest.mark.parametrize("edge", list(EDGE_SOURCES), indirect=True)


def _extract(src, schema, batch_size=2):
    batches = list(src.read_batches(schema, Position(), src.now(), batch_size))
    stats = ConversionStats()
    for b in batches:
        stats.merge(b.stats)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_batches([b.batch for b in batches], schema=schema.arrow_schema()), buf)
    buf.seek(0)
    table = pq.read_table(buf)
    rows = {r["id"]: r for r in table.to_pylist()}
    return table, rows, batches, stats


def test_edge_table_covers_every_type_rule(edge):
    _, _, schema = edge
    assert {c.rule.name for c in schema.columns} == {r.name for r in TYPE_RULES}


@ALL_SOURCES
def test_arrow_types_are_exact(edge):
    _, src, schema = edge
    table, _, _, _ = _extract(src, schema)
    types = {f.name: f.type for f in table.schema}
    assert types["dec_small"] == pa.decimal128(10, 4)
    assert types["dec_wide"] == pa.decimal256(65, 30)
    assert types["big_u"] == pa.decimal128(20, 0)  # no Redshift column takes a Parquet UINT_64
    assert types["bit64"] == pa.decimal128(20, 0)
    assert types["tiny1"] == pa.int8()  # never a boolean
    assert types["ts"] == pa.timestamp("us", tz="UTC")
    assert types["dtm"] == pa.timestamp("us")
    assert types["d"] == pa.date32()
    assert schema.column("js").data_type == "json"


@ALL_SOURCES
def test_values_survive_parquet_exactly(edge):
    _, src, schema = edge
    _, rows, batches, stats = _extract(src, schema)
    r1, r2, r3, r4 = rows[1], rows[2], rows[3], rows[4]
    assert r1["dec_small"] == Decimal("999999.9999") and r2["dec_small"] == Decimal("-0.0001")
    assert r1["dec_wide"] == WIDE
    assert (r1["tiny1"], r2["tiny1"], r4["tiny1"]) == (-128, 2, 127)
    assert (r1["tiny_u"], r1["small_s"], r1["small_u"], r1["med_s"], r1["med_u"]) == (255, -32768, 65535, -8388608, 16777215)
    assert (r1["int_s"], r1["int_u"]) == (-2147483648, 4294967295)
    assert (r1["big_s"], r1["big_u"]) == (-9223372036854775808, 18446744073709551615)
    assert (r1["fl"], r1["dbl"]) == (1.5, 1.7976931348623157e308)
    assert (r1["bit1"], r2["bit1"]) == (1, 0)
    assert (r1["bit64"], r2["bit64"]) == (18446744073709551615, 0)
    assert (r1["yr"], r2["yr"], r4["yr"]) == (1901, 2155, 0)
    assert (r1["ch"], r1["vc"], r1["tt"]) == ("abc", "emoji 😀 ok", "é")
    assert r1["lt"] == LONG_TEXT and len(LONG_TEXT.encode()) > 1_000_000
    assert (r1["en"], r2["en"]) == ("x", "z")
    assert (r1["st"], r2["st"]) == ("a,b", "")
    assert (r1["js"], r2["js"]) == (JSON_DOC, "[]")
    assert r1["d"] == dt.date(1000, 1, 1)
    assert r1["dtm"] == dt.datetime(2026, 1, 2, 3, 4, 5, 123456)
    assert r1["ts"] == dt.datetime(2026, 6, 1, 6, 30, 0, 654321, tzinfo=UTC)  # inserted at +05:30
    assert (r1["tm"], r2["tm"]) == ("-838:59:59", "838:59:59")
    assert (r1["tm6"], r2["tm6"]) == ("12:34:56.789012", "-00:00:00.000001")
    assert (r1["uu"], r1["ip4"], r1["ip6"]) == ("123e4567-e89b-12d3-a456-426614174000", "192.0.2.1", "2001:db8::ff00:42:8329")
    assert (r1["bn"], r1["vb"], r1["tb"], r1["bl"], r1["mb"], r1["lb"]) == (
        b"\x00\xff\x80\x81", b"\xc3\x28\xff", b"\xff", b"\xde\xad\xbe\xef\x00", b"\x80", b"\xfe\x00")
    # zero dates: NULL, and counted per column
    assert (r2["d"], r2["dtm"], r2["ts"]) == (None, None, None)
    assert stats.zero_dates == {"d": 1, "dtm": 1, "ts": 1}
    # NULLs in every column
    assert all(v is None for k, v in r3.items() if k != "id")
    # NULL cursor rows are counted
    assert sum(b.null_cursor_rows for b in batches) == 2


def test_null_cursor_rows_come_first_in_keyset_order(edge):
    _, src, schema = edge
    _, _, batches, _ = _extract(src, schema)
    assert [r["id"] for r in pa.Table.from_batches([b.batch for b in batches]).to_pylist()[:2]] == [2, 3]


@ALL_SOURCES
def test_geometry_is_the_servers_wkb(edge):
    conn, src, schema = edge
    _, rows, _, _ = _extract(src, schema)
    with conn.cursor() as cur:
        cur.execute("SELECT ST_AsBinary(geo), ST_AsBinary(pt) FROM edge WHERE id = 1")
        geo, pt = cur.fetchone()
    assert rows[1]["geo"] == geo and rows[1]["pt"] == pt
    assert pt[:5] == b"\x01\x01\x00\x00\x00"  # little-endian WKB point, no SRID prefix


def _plain(value, column):
    """A plain pymysql value in the form the type rules promise."""
    if value is None:
        return None
    if column.data_type == "bit":
        return int.from_bytes(value, "big")
    if isinstance(value, str) and column.data_type in ("date", "datetime", "timestamp"):
        return None  # zero date as returned raw by the driver
    if column.data_type == "timestamp":
        return value.replace(tzinfo=UTC)
    return value


@ALL_SOURCES
def test_values_equal_a_plain_pymysql_read(edge, mysql_server):
    _, src, schema = edge
    _, rows, _, _ = _extract(src, schema, batch_size=3)
    skip = {"tm", "tm6", "geo", "pt"}  # timedelta / internal geometry format: checked above
    plain = pymysql.connect(
        host=mysql_server["host"], port=mysql_server["port"], user=mysql_server["user"],
        password=mysql_server["password"], charset="utf8mb4", init_command="SET time_zone = '+00:00'",
    )
    with plain, plain.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(f"SELECT * FROM {schema.ref.mysql()}")
        expected = cur.fetchall()
    assert len(expected) == len(rows) == 4
    for exp in expected:
        got = rows[exp["id"]]
        for c in schema.columns:
            if c.name not in skip:
                assert got[c.name] == _plain(exp[c.name], c), (exp["id"], c.name)


def test_invalid_calendar_dates_become_null_and_are_counted(mysql_server, mysql_db):
    conn = pymysql.connect(
        host=mysql_server["host"], port=mysql_server["port"], user=mysql_server["user"],
        password=mysql_server["password"], database=mysql_db, autocommit=True,
    )
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, d DATE, dtm DATETIME)")
        cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        cur.execute("INSERT INTO t VALUES (1, '2020-02-30', '2020-02-30 10:00:00'), (2, '2020-02-28', '2020-02-28 10:00:00'), "
                    "(3, '2020-00-10', '2020-04-00 00:00:00')")
    with MySQLSource(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"]) as src:
        schema = src.discover(TableRef(mysql_db, "t"))
        (batch,) = list(src.read_batches(schema, Position(), None, 10))
    rows = {r["id"]: r for r in batch.batch.to_pylist()}
    assert (rows[1]["d"], rows[1]["dtm"]) == (None, None)
    assert (rows[2]["d"], rows[2]["dtm"]) == (dt.date(2020, 2, 28), dt.datetime(2020, 2, 28, 10))
    assert (rows[3]["d"], rows[3]["dtm"]) == (None, None)
    assert batch.stats.zero_dates == {"d": 2, "dtm": 2}


@pytest.mark.parametrize("source_class", [MySQLSource, connectorx_source], ids=["pymysql", "fast"])
def test_float_is_the_stored_single_precision_value(source_class, mysql_server, mysql_db):
    """MariaDB's text protocol prints FLOAT with 6 digits (16777216 as 16777200, 1.0000001192 as 1):
    both paths read the stored single-precision value exactly."""
    stored = [struct.unpack("f", struct.pack("f", v))[0]
              for v in (16777216.0, 1.0000001192092896, 0.1, 3.4028234663852886e38, 1.401298464324817e-45, -123456.789)]
    with pymysql.connect(host=mysql_server["host"], port=mysql_server["port"], user=mysql_server["user"],
                         password=mysql_server["password"], database=mysql_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE f (id INT PRIMARY KEY, fl FLOAT, updated_at DATETIME)")
        cur.executemany("INSERT INTO f VALUES (%s, %s, '2024-01-01')", list(enumerate(stored)))
    with source_class(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"]) as src:
        schema = src.discover(TableRef(mysql_db, "f"))
        batches = list(src.read_batches(schema, Position(), None, 4))
    read = {r["id"]: r["fl"] for b in batches for r in b.batch.to_pylist()}
    assert [read[i] for i in range(len(stored))] == stored
