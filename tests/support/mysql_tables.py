"""MariaDB tables that several test modules read: the type-rule edge table (one column per rule,
extreme values, zero dates, NULL vs empty), the sources that read it (pymysql, connectorx on one
connection or in stripes, and as a first backup's initial scan), and the ties table (hundreds of
rows per timestamp, NULL cursors, keys not in cursor order)."""

from __future__ import annotations

from decimal import Decimal

from s3rb_tui.engine.sources.base import InitialScan, Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import ConnectorXArrow, connectorx_source
from tests.support import mariadb

LONG_TEXT = ("Grüße 😀 naïve ∑ " * 60000)[:700000]  # ~1 MB of 1-4 byte UTF-8
WIDE = Decimal("99999999999999999999999999999999999.999999999999999999999999999999")
JSON_DOC = '{"k": [1, 2.5, "😀"], "n": null}'

COLUMNS = """
  id INT NOT NULL PRIMARY KEY,
  dec_small DECIMAL(10,4), dec_wide DECIMAL(65,30),
  tiny1 TINYINT(1), tiny_u TINYINT UNSIGNED, small_s SMALLINT, small_u SMALLINT UNSIGNED,
  med_s MEDIUMINT, med_u MEDIUMINT UNSIGNED, int_s INT, int_u INT UNSIGNED,
  big_s BIGINT, big_u BIGINT UNSIGNED,
  fl FLOAT, dbl DOUBLE,
  bit1 BIT(1), bit64 BIT(64),
  yr YEAR,
  ch CHAR(10), vc VARCHAR(50),
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  en ENUM('x','y','z'), st SET('a','b','c'),
  js JSON,
  d DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, tm6 TIME(6),
  bn BINARY(4), vb VARBINARY(16), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
  geo GEOMETRY, pt POINT,
  uu UUID, ip4 INET4, ip6 INET6,
  updated_at DATETIME(6) NULL
"""

INSERT_1 = f"""INSERT INTO edge VALUES (1,
  999999.9999, {WIDE},
  -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  1.5, 1.7976931348623157e308,
  b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
  1901,
  'abc', 'emoji 😀 ok',
  'é', 'text', 'medium', %s,
  'x', 'a,b',
  %s,
  '1000-01-01', '2026-01-02 03:04:05.123456', '2026-06-01 12:00:00.654321', '-838:59:59', '12:34:56.789012',
  x'00ff8081', x'c328ff', x'ff', x'deadbeef00', x'80', x'fe00',
  ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'), ST_GeomFromText('POINT(-3.5 4.25)'),
  '123e4567-e89b-12d3-a456-426614174000', '192.0.2.1', '2001:db8::ff00:42:8329',
  '2026-01-01 00:00:00')"""

INSERT_2 = """INSERT INTO edge (id, dec_small, tiny1, bit1, bit64, yr, en, st, js, d, dtm, ts, tm, tm6, updated_at)
  VALUES (2, -0.0001, 2, b'0', 0, 2155, 'z', '', '[]', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
          '838:59:59', '-00:00:00.000001', NULL)"""

INSERT_3 = "INSERT INTO edge (id, tiny1, yr, updated_at) VALUES (3, NULL, NULL, NULL), (4, 127, 0, '2026-01-01 00:00:00')"


def create_edge(cur) -> None:
    """The edge table with its four rows, through a pymysql cursor on the test's database (the
    session's sql_mode and time zone are changed: zero dates legal, TIMESTAMP must come out as UTC)."""
    cur.execute(f"CREATE TABLE edge ({COLUMNS})")
    cur.execute("SET SESSION sql_mode = ''")
    cur.execute("SET SESSION time_zone = '+05:30'")
    cur.execute(INSERT_1, (LONG_TEXT, JSON_DOC))
    cur.execute(INSERT_2)
    cur.execute(INSERT_3)


class ReadsLikeAFirstBackup:
    """A source whose read from the start is what a table's first full backup does: an initial
    scan in primary-key order (backup.plan_backup starts one), so the fidelity tests cover it too."""

    def read_batches(self, schema, start, upper_bound, batch_size, limit=None):
        if start.is_start and schema.incremental:
            start = Position(scan=InitialScan(self.initial_scan_bound(schema, upper_bound)))
        return super().read_batches(schema, start, upper_bound, batch_size, limit)


class FilesPerQuery(ConnectorXArrow):
    """The fast path with every query reading ``files`` batches' rows, each page sliced into
    batches (as BACKUP_QUERY_ROWS = files x BACKUP_BATCH_SIZE does), whatever batch size a test
    reads with. ``files=1``: one batch per query (pages and stripes as small as the batches)."""

    def __init__(self, parallel: int = 1, files: int = 1):
        super().__init__(parallel)
        self.files = files

    def rows_per_query(self, file_rows: int) -> int:
        return self.files * file_rows


def fast_source(server: dict, parallel: int = 1, files: int = 1) -> MySQLSource:
    """A connectorx source on the test server: ``parallel`` connections, ``files`` batches a query."""
    return MySQLSource(server["host"], server["port"], server["user"], server["password"], fetch=FilesPerQuery(parallel, files))


class FastInitialScan(ReadsLikeAFirstBackup, MySQLSource):
    def __init__(self, host, port, user, password, parallel=1, files=1):
        super().__init__(host, port, user, password, fetch=FilesPerQuery(parallel, files))


class PyMySQLInitialScan(ReadsLikeAFirstBackup, MySQLSource):
    pass


EDGE_SOURCES = {
    "pymysql": lambda s: MySQLSource(s["host"], s["port"], s["user"], s["password"]),
    "one-connection": lambda s: fast_source(s, parallel=1),
    "parallel-stripes": lambda s: fast_source(s, parallel=3),
    "sliced-pages": lambda s: fast_source(s, parallel=1, files=3),
    "sliced-stripes": lambda s: fast_source(s, parallel=3, files=2),
    "default-query-rows": lambda s: connectorx_source(s["host"], s["port"], s["user"], s["password"], parallel=4),
    "scan-one-connection": lambda s: FastInitialScan(s["host"], s["port"], s["user"], s["password"], parallel=1),
    "scan-parallel-stripes": lambda s: FastInitialScan(s["host"], s["port"], s["user"], s["password"], parallel=3),
    "scan-sliced-stripes": lambda s: FastInitialScan(s["host"], s["port"], s["user"], s["password"], parallel=3, files=2),
    "scan-pymysql": lambda s: PyMySQLInitialScan(s["host"], s["port"], s["user"], s["password"]),
}
"""The sources the edge table is read through, by test id (``server`` dict -> open source)."""


def make_ties(server: dict, db: str, rows: int = 1000) -> None:
    """``rows`` rows over 4 timestamps (hundreds share one), 6 NULL cursors (at 1000 rows), keys not in cursor order."""
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ties (id INT PRIMARY KEY, updated_at DATETIME(6) NULL, amount DECIMAL(15,4), note VARCHAR(20),"
                    " KEY (updated_at, id))")
        values = []
        for i in range(1, rows + 1):
            stamp = None if i % 143 == 0 else f"2024-03-0{1 + (i * 7) % 4} 10:00:00.{(i * 7) % 4:06d}"
            values.append((i, stamp, f"{i * 3}.{i % 10000:04d}", f"n{i}"))
        cur.executemany("INSERT INTO ties VALUES (%s, %s, %s, %s)", values)
