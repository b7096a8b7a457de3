"""The fast extraction path (connectorx, ``sources/mysql_arrow.py``) against real MariaDB.

The type-fidelity tests of ``test_type_fidelity.py`` run through the fast source too (one
connection, and keyset stripes read in parallel: their ``ALL_SOURCES`` mark); this module checks what only this path does:
keyset order and ties across stripes, identical output to the pymysql path, the path choice
(``auto``/``fast``/``pymysql``, visible in ``--dry-run`` and the job summary), the password kept
out of errors, logs and output, and the SSH tunnel.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.wiring.extract_path import choose_extract_path
from s3rb_tui.engine.core.type_rules import Column
from s3rb_tui.engine.sources.base import InitialScan, Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import _url, connectorx_source
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.mysql_tables import fast_source, make_ties

pytestmark = pytest.mark.integration




def test_invalid_calendar_dates_become_null_and_are_counted_on_the_fast_path(mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, d DATE, dtm DATETIME)")
        cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        cur.execute("INSERT INTO t VALUES (1, '2020-02-30', '2020-02-30 10:00:00'), (2, '2020-02-28', '2020-02-28 10:00:00'), "
                    "(3, '2020-00-10', '2020-04-00 00:00:00')")
    with fast_source(mysql_server) as src:
        schema = src.discover(TableRef(mysql_db, "t"))
        (batch,) = list(src.read_batches(schema, Position(), None, 10))
    rows = {r["id"]: r for r in batch.batch.to_pylist()}
    assert (rows[1]["d"], rows[1]["dtm"]) == (None, None)
    assert (rows[2]["d"], rows[2]["dtm"]) == (dt.date(2020, 2, 28), dt.datetime(2020, 2, 28, 10))
    assert (rows[3]["d"], rows[3]["dtm"]) == (None, None)
    assert batch.stats.zero_dates == {"d": 2, "dtm": 2}


# --- keyset order, ties and identical output --------------------------------------------------

def read_all(src, schema, start=Position(), batch_size=70, upper="2030-01-01 00:00:00.000000"):
    return list(src.read_batches(schema, start, upper, batch_size))


@pytest.mark.parametrize("files", [1, 3])
@pytest.mark.parametrize("parallel", [1, 4])
def test_ties_every_row_once_in_keyset_order_with_exact_batches(mysql_server, mysql_db, parallel, files):
    make_ties(mysql_server, mysql_db)
    with fast_source(mysql_server, parallel, files) as src:
        schema = src.discover(TableRef(mysql_db, "ties"))
        batches = read_all(src, schema)
    table = pa.Table.from_batches([b.batch for b in batches])
    ids = table.column("id").to_pylist()
    assert sorted(ids) == list(range(1, 1001))  # none lost, none twice
    keys = [(u is not None, u, i) for u, i in zip(table.column("updated_at").to_pylist(), ids)]
    assert keys == sorted(keys)  # NULL cursors first, then (cursor, id)
    assert [b.batch.num_rows for b in batches] == [70] * 14 + [20]
    assert sum(b.null_cursor_rows for b in batches) == 6
    assert batches[-1].end == Position(cursor="2024-03-04 10:00:00.000003", key=(997,), nulls_done=True)


DECIMAL_EDGES = [  # (column type, values): DECIMALs up to 15 digits travel as DOUBLEs, up to 18 as scaled BIGINTs,
    # wider ones as decimals or text
    ("DECIMAL(15,0)", ["999999999999999", "-999999999999999", "9007199254740"]),
    ("DECIMAL(15,15)", ["0.999999999999999", "-0.000000000000001", "0.100000000000001"]),
    ("DECIMAL(15,4)", ["-99999999999.9999", "12345678901.2345", "0.0005"]),
    ("DECIMAL(18,0)", ["999999999999999999", "-999999999999999999", "0"]),
    ("DECIMAL(18,18)", ["0.999999999999999999", "-0.000000000000000001", "0.5"]),
    ("DECIMAL(18,9)", ["-999999999.999999999", "123.000000001", "0.000000000"]),
    ("DECIMAL(10,4) UNSIGNED", ["999999.9999", "0.0001", "0.0000"]),
    ("DECIMAL(5,0)", ["-99999", "99999", "1"]),
    ("DECIMAL(19,2)", ["99999999999999999.99", "-0.01", "1.10"]),
]


@pytest.mark.parametrize("source", ["fast-one-connection", "fast-stripes"])
def test_decimals_at_their_limits_are_exact_with_a_decimal_key(mysql_server, mysql_db, source):
    cols = ", ".join(f"d{i} {t}" for i, (t, _) in enumerate(DECIMAL_EDGES))
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE decs (k DECIMAL(12,3) PRIMARY KEY, updated_at DATETIME, {cols}, KEY (updated_at, k))")
        for row in range(3):
            values = [f"{row - 1}.5{row}{row}", "2025-01-01 00:00:00"] + [v[row] for _, v in DECIMAL_EDGES]
            cur.execute(f"INSERT INTO decs VALUES ({', '.join(['%s'] * len(values))})", values)
        cur.execute("INSERT INTO decs (k, updated_at) VALUES (7.000, '2025-01-01 00:00:00')")  # NULLs everywhere
        cur.execute("SELECT * FROM decs ORDER BY k")
        expected = cur.fetchall()
    s = mysql_server
    with connectorx_source(s["host"], s["port"], s["user"], s["password"], parallel=1 if source == "fast-one-connection" else 3) as src:
        schema = src.discover(TableRef(mysql_db, "decs"))
        for start in (Position(), Position(scan=InitialScan(src.initial_scan_bound(schema, UPPER_2030)))):
            batches = list(src.read_batches(schema, start, UPPER_2030, 1))
            table = pa.Table.from_batches([b.batch for b in batches if b.batch.num_rows], schema=schema.arrow_schema())
            assert [f.type for f in table.schema][2:] == [pa.decimal128(15, 0), pa.decimal128(15, 15), pa.decimal128(15, 4),
                                                          pa.decimal128(18, 0), pa.decimal128(18, 18), pa.decimal128(18, 9),
                                                          pa.decimal128(10, 4), pa.decimal128(5, 0), pa.decimal128(19, 2)]
            got = sorted((tuple(r.values()) for r in table.to_pylist()), key=lambda r: r[0])
            assert got == [tuple(row) for row in expected]  # pymysql's Decimals, value for value
            assert batches[-1].end == Position(cursor="2025-01-01 00:00:00.000000", key=("7.000",), nulls_done=True)


UPPER_2030 = "2030-01-01 00:00:00.000000"


@pytest.mark.parametrize("files", [1, 4])
@pytest.mark.parametrize("parallel", [1, 3])
def test_same_batches_positions_and_values_as_the_pymysql_path(mysql_server, mysql_db, parallel, files):
    make_ties(mysql_server, mysql_db)
    server = mysql_server
    with MySQLSource(server["host"], server["port"], server["user"], server["password"]) as slow, \
            fast_source(server, parallel, files) as fast:
        schema = slow.discover(TableRef(mysql_db, "ties"))
        middle = Position(cursor="2024-03-02 10:00:00.000001", key=(400,), nulls_done=True)
        for start in (Position(), middle):
            expected, got = read_all(slow, schema, start), read_all(fast, schema, start)
            assert [b.end for b in got] == [b.end for b in expected]
            assert [b.null_cursor_rows for b in got] == [b.null_cursor_rows for b in expected]
            for e, g in zip(expected, got):
                assert g.batch.equals(e.batch)


@pytest.mark.parametrize("files", [1, 4])
def test_the_upper_bound_and_limit_hold(mysql_server, mysql_db, files):
    make_ties(mysql_server, mysql_db)
    with fast_source(mysql_server, 3, files) as src:
        schema = src.discover(TableRef(mysql_db, "ties"))
        # the bound is a clock reading: its own microsecond is not complete, the one before is read
        upto = read_all(src, schema, upper="2024-03-02 10:00:00.000002")
        limited = list(src.read_batches(schema, Position(), None, 70, limit=100))
    stamps = [s for b in upto for s in b.batch.column("updated_at").to_pylist() if s is not None]
    expected = [i for i in range(1, 1001) if i % 143 and (i * 7) % 4 <= 1]
    assert max(stamps) == dt.datetime(2024, 3, 2, 10, 0, 0, 1) and len(stamps) == len(expected)
    assert [b.batch.num_rows for b in limited] == [70, 30]


@pytest.mark.parametrize("parallel", [1, 3])
def test_a_page_read_in_one_query_resumes_exactly_after_each_of_its_files(mysql_server, mysql_db, parallel):
    """BACKUP_QUERY_ROWS above BACKUP_BATCH_SIZE: a query's rows are written as several files, and
    the watermark moves after each; a run stopped after any file resumes with exactly the rest."""
    make_ties(mysql_server, mysql_db)
    with fast_source(mysql_server, parallel, files=4) as src, fast_source(mysql_server, 1) as other:
        schema = src.discover(TableRef(mysql_db, "ties"))
        batches = read_all(src, schema)
        ids = [i for b in batches for i in b.batch.column("id").to_pylist()]
        assert [b.batch.num_rows for b in batches] == [70] * 14 + [20]
        done = 0
        for b in batches[:-1]:
            done += b.batch.num_rows
            rest = read_all(other, schema, json_round_trip(b.end))
            assert [i for r in rest for i in r.batch.column("id").to_pylist()] == ids[done:]


def json_round_trip(p: Position) -> Position:
    """A position as the watermark document keeps it."""
    kept = json.loads(json.dumps({"cursor": p.cursor, "key": p.key, "nulls_done": p.nulls_done}))
    return Position(cursor=kept["cursor"], key=tuple(kept["key"]) if kept["key"] is not None else None, nulls_done=kept["nulls_done"])


def test_zero_dates_are_counted_in_the_file_that_holds_them_when_a_query_spans_files(mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE z (id INT PRIMARY KEY, updated_at DATETIME, d DATE, KEY (updated_at, id))")
        cur.execute("SET SESSION sql_mode = ''")
        cur.executemany("INSERT INTO z VALUES (%s, '2024-01-01 00:00:00', %s)",
                        [(i, "0000-00-00" if i in (3, 4, 12) else "2024-05-06") for i in range(1, 16)])
    with fast_source(mysql_server, 1, files=3) as src:  # one query of 15 rows, five files of 3
        schema = src.discover(TableRef(mysql_db, "z"))
        batches = read_all(src, schema, batch_size=3)
    assert [b.batch.num_rows for b in batches] == [3] * 5
    assert [b.stats.zero_dates.get("d", 0) for b in batches] == [1, 1, 0, 1, 0]
    assert [b.batch.column("d").null_count for b in batches] == [1, 1, 0, 1, 0]


def test_snapshot_of_a_table_without_a_key(mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE nokey (code VARCHAR(10), updated_at DATETIME, n BIGINT UNSIGNED)")
        cur.executemany("INSERT INTO nokey VALUES (%s, %s, %s)",
                        [(f"c{i}", f"2024-01-{1 + i % 28:02d} 00:00:00", 18446744073709551615 - i) for i in range(250)])
    with fast_source(mysql_server, 3) as src:
        schema = src.discover(TableRef(mysql_db, "nokey"))
        assert not schema.incremental
        batches = read_all(src, schema, batch_size=100)
    assert [b.batch.num_rows for b in batches] == [100, 100, 50]
    assert sorted(pa.Table.from_batches([b.batch for b in batches]).column("n").to_pylist()) == \
        sorted(18446744073709551615 - i for i in range(250))
    assert batches[-1].end.cursor == "2024-01-28 00:00:00.000000"


# --- errors and secrets ------------------------------------------------------------------------

@pytest.fixture
def password_user(mysql_server, mysql_db):
    """A MariaDB user with a password (with URL-special characters), allowed on the test database."""
    name = f"s3rbfx{uuid.uuid4().hex[:8]}"
    password = f"Pw:{uuid.uuid4().hex[:12]}@/#%?"
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        cur.execute("CREATE USER %s@'localhost' IDENTIFIED BY %s", (name, password))
        for host in ("%", "localhost"):
            cur.execute(f"GRANT ALL ON `{mysql_db}`.* TO %s@%s", (name, host))
    yield name, password
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))


def test_driver_errors_are_one_line_without_the_password(mysql_server, mysql_db, password_user):
    user, password = password_user
    make_ties(mysql_server, mysql_db, rows=10)
    with connectorx_source(mysql_server["host"], mysql_server["port"], user, password) as src:
        schema = src.discover(TableRef(mysql_db, "ties"))
        assert len(pa.Table.from_batches([b.batch for b in read_all(src, schema)])) == 10
        missing = dataclasses.replace(schema, columns=schema.columns + (Column("no_such_column", "int"),))
        with pytest.raises(JobError) as info:
            list(src.read_batches(missing, Position(), None, 100))
        assert password not in str(info.value) and password not in repr(src)
        assert "Unknown column" in str(info.value) and "\n" not in str(info.value)


def test_backup_on_the_fast_path_through_the_cli_never_shows_the_password(
        run_cli, make_env, mysql_server, mysql_db, password_user, tmp_path):
    user, password = password_user
    make_ties(mysql_server, mysql_db, rows=300)
    log = tmp_path / "log.jsonl"
    env = make_env(DB_USER=user, DB_PASSWORD=password, STORE_URL=f"file://{tmp_path / 'store'}", BACKUP_NUM_CHUNKS=2)
    (tmp_path / "store").mkdir()
    dry = run_cli("--run", "backup", "-t", "ties", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "extraction: connectorx on 2 connections" in dry.stdout  # BACKUP_NUM_CHUNKS=2
    forced = run_cli("--run", "backup", "-t", "ties", "--dry-run", "--extract-engine", "pymysql", env=env)
    assert "extraction: pymysql\n" in forced.stdout  # one connection: not said
    done = run_cli("--run", "backup", "-t", "ties", "--batch-size", "64", "--json", "--log-file", log, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    [table] = summary["tables"]
    assert table["details"]["extract_path"] == "connectorx" and table["rows"] == 300 and table["files"] == 5
    for text in (dry.stdout, dry.stderr, forced.stdout, done.stdout, done.stderr, log.read_text()):
        assert password not in text
    ids = [i for p in sorted(Path(tmp_path / "store").rglob("*.parquet")) for i in pq.read_table(p).column("id").to_pylist()]
    assert sorted(ids) == list(range(1, 301))


def test_forced_fallback_gives_the_same_files(run_cli, make_env, mysql_server, mysql_db, tmp_path):
    make_ties(mysql_server, mysql_db, rows=300)
    tables = {}
    for engine in ("fast", "pymysql"):
        store = tmp_path / engine
        store.mkdir()
        env = make_env(STORE_URL=f"file://{store}")
        done = run_cli("--run", "backup", "-t", "ties", "--batch-size", "100", "--extract-engine", engine, "--json", env=env)
        assert done.returncode == 0, done.stderr
        [t] = json.loads(done.stdout)["tables"]
        assert t["details"]["extract_path"] == ("connectorx" if engine == "fast" else "pymysql")
        tables[engine] = [pq.read_table(p) for p in sorted(store.rglob("*.parquet"))]
    assert len(tables["fast"]) == len(tables["pymysql"]) == 3
    for a, b in zip(tables["fast"], tables["pymysql"]):
        assert a.equals(b)


# --- choosing the path ------------------------------------------------------------------------

def test_auto_fast_and_pymysql_choices():
    mysql = build_settings({"DB_DIALECT": "mysql"})
    assert choose_extract_path(mysql, "auto") == "connectorx"
    assert choose_extract_path(mysql, "fast") == "connectorx"
    assert choose_extract_path(mysql, "pymysql") == "pymysql"
    assert choose_extract_path(build_settings({"DB_DIALECT": "mysql", "EXTRACT_ENGINE": "pymysql"})) == "pymysql"
    sqlite = build_settings({"DB_DIALECT": "sqlite"})
    assert choose_extract_path(sqlite, "auto") == "sqlite"
    with pytest.raises(ConfigError, match="MySQL only"):
        choose_extract_path(sqlite, "fast")


# --- the SSH tunnel -----------------------------------------------------------------------------

def test_fast_path_through_the_ssh_tunnel(make_env, sshd, mysql_server, mysql_db):
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.core.jobs import JobContext
    from s3rb_tui.engine.wiring.workspace import Workspace

    make_ties(mysql_server, mysql_db, rows=300)
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:  # a snapshot table too
        cur.execute("CREATE TABLE nokey (code VARCHAR(10), d DATE)")
        cur.executemany("INSERT INTO nokey VALUES (%s, %s)", [(f"c{i}", "2024-01-01") for i in range(150)])
    env = make_env(SSH_BASTION_HOST=sshd.host, SSH_BASTION_PORT=sshd.port, SSH_BASTION_USER=sshd.user,
                   SSH_BASTION_KEY_PATH=sshd.key_path, SSH_KNOWN_HOSTS=sshd.known_hosts_path, BACKUP_TIMEOUT_SECONDS=10,
                   BACKUP_NUM_CHUNKS=2)
    logged = []
    ws = Workspace(build_settings(env), log=lambda e, level="info", **f: logged.append((e, f)))
    try:
        result, snapshot = run_backup(ws, [ws.table_ref("ties"), ws.table_ref("nokey")], JobContext("backup"),
                                      batch_size=100, extract_engine="fast")
        assert result.status == "success", result.error
        assert result.details["extract_path"] == "connectorx" and result.rows == 300 and result.files == 3
        assert snapshot.status == "success" and snapshot.rows == 150 and snapshot.files == 2
        assert [f for e, f in logged if e == "SSH tunnel open"]
    finally:
        ws.close()


def test_zero_dates_in_a_later_page_are_counted_like_the_pymysql_path(mysql_server, mysql_db):
    """Native dates until a page holds one connectorx cannot decode; year 0 (which it can) is a zero date too."""
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE z (id INT PRIMARY KEY, d DATE, dtm DATETIME, ts TIMESTAMP NULL, updated_at DATETIME NOT NULL,"
                    " KEY (updated_at, id))")
        rows = [(i, f"2024-01-{1 + i % 28:02d}", f"2024-02-{1 + i % 28:02d} 01:02:03", f"2024-03-01 00:00:{i % 60:02d}",
                 f"2024-05-01 00:{i // 60:02d}:{i % 60:02d}") for i in range(1, 301)]
        rows[19] = (20, "0000-05-05", "0000-05-05 10:00:00", None, rows[19][4])  # year 0: decodable, still a zero date
        rows[249] = (250, "0000-00-00", "2024-00-10 00:00:00", "0000-00-00 00:00:00", rows[249][4])
        cur.executemany("INSERT INTO z VALUES (%s, %s, %s, %s, %s)", rows)
    server = mysql_server
    with MySQLSource(server["host"], server["port"], server["user"], server["password"]) as slow, fast_source(server, 3) as fast:
        schema = slow.discover(TableRef(mysql_db, "z"))
        expected, got = read_all(slow, schema, batch_size=100), read_all(fast, schema, batch_size=100)
    assert [b.end for b in got] == [b.end for b in expected]
    for e, g in zip(expected, got):
        assert g.batch.equals(e.batch) and g.stats.zero_dates == e.stats.zero_dates
    assert [b.stats.zero_dates for b in got] == [{"d": 1, "dtm": 1}, {}, {"d": 1, "dtm": 1, "ts": 1}]


# --- pure logic ---------------------------------------------------------------------------------

def test_batches_are_recut_to_exactly_the_batch_size():
    from s3rb_tui.engine.sources.read_ahead import exact_batches

    def rb(lo, n):
        return pa.RecordBatch.from_pydict({"i": list(range(lo, lo + n))})

    out = list(exact_batches(iter([rb(0, 3), rb(3, 5), rb(8, 4), rb(12, 3)]), 4))
    assert [b.num_rows for b in out] == [4, 4, 4, 3]
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(15))


def test_connectorx_errors_are_judged_like_the_driver_errors_they_stand_for():
    from s3rb_tui.engine.core.retry import is_transient
    from s3rb_tui.engine.sources.mysql_arrow import _cause

    server = _cause("MySqlError { ERROR 1054 (42S22): Unknown column 'x' in 'SELECT' }")
    assert isinstance(server, pymysql.err.OperationalError) and server.args[0] == 1054 and not is_transient(server)
    assert is_transient(_cause("MySqlError { ERROR 1213 (40001): Deadlock found when trying to get lock }"))
    assert is_transient(_cause("timed out waiting for connection: IoError { server disconnected }"))
    assert _cause("something else entirely") is None


def test_the_url_carries_the_password_and_scrubbing_removes_it(mysql_server, mysql_db, password_user):
    user, password = password_user
    with connectorx_source(mysql_server["host"], mysql_server["port"], user, password) as src:
        url = _url(src, mysql_db)
        assert password not in url  # percent-encoded: '@', '/', '#', '%', '?' would break the URL
        assert password not in src.scrub(f"error for {url} with {password}")
        assert "****" in src.scrub(url)


def test_cancel_between_batches_stops_the_parallel_readers_and_keeps_the_committed_batches(make_env, mysql_server, mysql_db, tmp_path):
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.core.jobs import JobContext
    from s3rb_tui.engine.wiring.workspace import Workspace

    make_ties(mysql_server, mysql_db, rows=1000)
    (tmp_path / "store").mkdir()
    ws = Workspace(build_settings(make_env(STORE_URL=f"file://{tmp_path / 'store'}", BACKUP_NUM_CHUNKS=3)))
    ctx = JobContext("backup")

    def cancel_after_two_files(event):
        if isinstance(event, Progress) and event.files == 2:
            ctx.cancel.cancel("test")

    ctx.subscribe(cancel_after_two_files)
    try:
        [result] = run_backup(ws, [ws.table_ref("ties")], ctx, batch_size=100, extract_engine="fast")
        assert result.status == "cancelled"
        wm = ws.watermarks.get(ws.table_ref("ties"))
        assert wm.cumulative.extracted == 200
        ids = sorted(i for p in (tmp_path / "store").rglob("*.parquet") for i in pq.read_table(p).column("id").to_pylist())
        assert len(ids) == len(set(ids)) == 200
        # the next run takes the rest, each row once
        [rest] = run_backup(ws, [ws.table_ref("ties")], JobContext("backup"), batch_size=100, extract_engine="fast")
        assert rest.status == "success" and rest.rows == 800
        ids = sorted(i for p in (tmp_path / "store").rglob("*.parquet") for i in pq.read_table(p).column("id").to_pylist())
        assert ids == list(range(1, 1001))
    finally:
        ws.close()
