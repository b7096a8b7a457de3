"""A table's first full backup as an initial scan in primary-key order (``sources.base.InitialScan``),
against real MariaDB, on both extraction paths.

What a user relies on: every row exactly once; the position a finished scan leaves is the one a
keyset read of the same rows leaves, so the next run continues exactly; an interrupted scan
resumes where it stopped (with either path); rows changed while the scan runs are the next run's,
never lost; and the operator can see a scan in progress (`--dry-run`, `watermark get`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.sources.base import InitialScan, Position
from s3rb_tui.engine.sources.mysql import CATCH_UP_MIN_ROWS, CATCH_UP_SHARE, MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import connectorx_source
from s3rb_tui.engine.core.table_names import TableRef
from tests.support.mysql_tables import fast_source, make_ties
from tests.support import mariadb

pytestmark = pytest.mark.integration

UPPER = "2030-01-01 00:00:00.000000"
SOURCES = {
    "pymysql": lambda s: MySQLSource(s["host"], s["port"], s["user"], s["password"]),
    "fast-one-connection": lambda s: fast_source(s, parallel=1),
    "fast-stripes": lambda s: fast_source(s, parallel=4),
    "fast-sliced-pages": lambda s: fast_source(s, parallel=1, files=2),  # a query's rows in two batches
    "fast-sliced-stripes": lambda s: fast_source(s, parallel=2, files=2),
}


@pytest.fixture(params=list(SOURCES))
def source(request, mysql_server):
    src = SOURCES[request.param](mysql_server)
    yield src
    src.close()


def scan_start(src, schema, upper=UPPER) -> Position:
    return Position(scan=InitialScan(src.initial_scan_bound(schema, upper)))


def ids_of(batches) -> list[int]:
    return [i for b in batches for i in b.batch.column("id").to_pylist()]


def test_scan_reads_every_row_once_in_key_order_and_ends_where_a_keyset_read_ends(source, mysql_server, mysql_db):
    make_ties(mysql_server, mysql_db)  # 1000 rows, hundreds per timestamp, 6 NULL cursors, keys not in cursor order
    schema = source.discover(TableRef(mysql_db, "ties"))
    batches = list(source.read_batches(schema, scan_start(source, schema), UPPER, 70))
    assert ids_of(batches) == list(range(1, 1001))  # primary-key order, none lost, none twice
    assert [b.batch.num_rows for b in batches if b.batch.num_rows] == [70] * 14 + [20]
    assert sum(b.null_cursor_rows for b in batches) == 6
    # every batch but the last ends inside the scan; the last at the keyset position of all rows
    assert all(b.end.scan is not None for b in batches[:-1])
    with MySQLSource(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"]) as keyset:
        keyset_end = list(keyset.read_batches(schema, Position(), UPPER, 70))[-1].end
    assert batches[-1].end == keyset_end == Position(cursor="2024-03-04 10:00:00.000003", key=(997,), nulls_done=True)
    assert list(source.read_batches(schema, batches[-1].end, UPPER, 70)) == []  # nothing after it


def test_an_interrupted_scan_resumes_on_the_other_path(mysql_server, mysql_db):
    make_ties(mysql_server, mysql_db)
    s = mysql_server
    with connectorx_source(s["host"], s["port"], s["user"], s["password"], parallel=1) as fast, \
            MySQLSource(s["host"], s["port"], s["user"], s["password"]) as slow:
        schema = fast.discover(TableRef(mysql_db, "ties"))
        first = list(fast.read_batches(schema, scan_start(fast, schema), UPPER, 100, limit=300))
        assert ids_of(first) == list(range(1, 301))
        stopped = first[-1].end
        assert stopped.scan is not None and stopped.scan.after_key == (300,)
        # the position as the watermark keeps it (JSON), then the rest through the pymysql path
        kept = Position(scan=InitialScan.from_json(json.loads(json.dumps(stopped.scan.to_json()))))
        rest = list(slow.read_batches(schema, kept, UPPER, 100))
    assert ids_of(rest) == list(range(301, 1001))
    assert rest[-1].end == Position(cursor="2024-03-04 10:00:00.000003", key=(997,), nulls_done=True)


def test_rows_changed_during_the_scan_are_the_next_runs(source, mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME(6), v VARCHAR(10), KEY (updated_at, id))")
        cur.executemany("INSERT INTO t VALUES (%s, '2025-01-01 00:00:00', %s)", [(i, f"v{i}") for i in range(1, 2001)])
    schema = source.discover(TableRef(mysql_db, "t"))
    bound = "2025-06-01 00:00:00.000000"  # the run's bound, fixed when the scan starts
    stream = source.read_batches(schema, scan_start(source, schema, bound), bound, 100)
    got = [next(stream)]
    assert ids_of(got) == list(range(1, 101))
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        # id 5 has been read; id 1950 not yet (stripes read at most a few batches ahead)
        cur.execute("UPDATE t SET v = 'changed', updated_at = '2025-07-01 00:00:00' WHERE id IN (5, 1950)")
        cur.execute("INSERT INTO t VALUES (3000, '2025-07-01 00:00:01', 'new')")
    got += list(stream)
    scanned = ids_of(got)
    assert 5 in scanned and 1950 not in scanned and 3000 not in scanned  # 1950 changed past the bound: not this run's
    assert len(scanned) == len(set(scanned)) == 1999
    next_run = list(source.read_batches(schema, got[-1].end, "2026-01-01 00:00:00.000000", 100))
    assert sorted(ids_of(next_run)) == [5, 1950, 3000]
    assert {r["v"] for b in next_run for r in b.batch.to_pylist()} == {"changed", "new"}


def test_a_numeric_cursor_is_bounded_by_its_largest_value_when_the_scan_starts(source, mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE versions (a INT, b VARCHAR(5), version BIGINT, PRIMARY KEY (a, b), KEY (version))")
        cur.executemany("INSERT INTO versions VALUES (%s, %s, %s)", [(i // 3, f"k{i % 3}", 1000 + i) for i in range(300)])
    schema = source.discover(TableRef(mysql_db, "versions"), cursor_override="version")
    start = scan_start(source, schema, None)
    assert start.scan.upper_bound == 1299
    stream = source.read_batches(schema, start, None, 40)
    got = [next(stream)]
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("UPDATE versions SET version = 5000 WHERE a = 90 AND b = 'k0'")  # not yet read: past the bound now
    got += list(stream)
    keys = [(r["a"], r["b"]) for b in got for r in b.batch.to_pylist()]
    assert len(keys) == len(set(keys)) == 299 and (90, "k0") not in keys
    assert keys == sorted(keys)  # composite primary key order
    assert got[-1].end == Position(cursor=1299, key=(99, "k2"), nulls_done=True)
    assert [(r["a"], r["b"]) for b in source.read_batches(schema, got[-1].end, None, 40) for r in b.batch.to_pylist()] == [(90, "k0")]


def test_first_backup_through_the_cli_shows_and_resumes_a_scan(run_cli, make_env, mysql_server, mysql_db, tmp_path):
    make_ties(mysql_server, mysql_db, rows=500)
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}")
    dry = run_cli("--run", "backup", "-t", "ties", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "first full backup in primary-key order (id) from the beginning" in dry.stdout

    part = run_cli("--run", "backup", "-t", "ties", "--batch-size", "100", "--limit", "250", "--json", env=env)
    assert part.returncode == 0, part.stderr
    assert json.loads(part.stdout)["tables"][0]["rows"] == 250
    shown = run_cli("--run", "watermark", "get", "-t", "ties", env=env)
    assert "First Full Backup:" in shown.stdout and "through key 250" in shown.stdout
    assert json.loads(run_cli("--run", "watermark", "get", "-t", "ties", "--json", env=env).stdout)["initial_scan"]["after_key"] == [250]
    again = run_cli("--run", "backup", "-t", "ties", "--dry-run", env=env)
    assert "first full backup in primary-key order (id) from after id 250" in again.stdout
    assert "estimated rows: 250" in again.stdout

    rest = run_cli("--run", "backup", "-t", "ties", "--batch-size", "100", "--extract-engine", "pymysql", "--json", env=env)
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout)["tables"][0]["rows"] == 250
    ids = Counter(i for p in sorted(Path(store).rglob("*.parquet")) for i in pq.read_table(p).column("id").to_pylist())
    assert sorted(ids) == list(range(1, 501)) and max(ids.values()) == 1
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "ties", "--json", env=env).stdout)
    assert wm["initial_scan"] is None
    assert wm["cumulative"]["extracted"] == 500
    newest = max((r for p in Path(store).rglob("*.parquet") for r in pq.read_table(p).to_pylist() if r["updated_at"]),
                 key=lambda r: (r["updated_at"], r["id"]))
    assert (wm["last_data_timestamp"], wm["last_key"]) == (newest["updated_at"].strftime("%Y-%m-%d %H:%M:%S.%f"), [newest["id"]])
    assert "first full backup" not in run_cli("--run", "backup", "-t", "ties", "--dry-run", env=env).stdout
    table = pa.concat_tables([pq.read_table(p) for p in sorted(Path(store).rglob("*.parquet"))])
    assert table.num_rows == 500


def test_stripes_cut_by_key_value_take_sparse_and_clustered_keys_once(mysql_server, mysql_db):
    """A single integer key's stripes are cut by value (no OFFSET walks): gaps make small stripes,
    a dense cluster inside one stripe is read in several pages; every row once, in key order."""
    keys = [i * 1_000 for i in range(1, 301)] + list(range(400_000, 400_400))  # ~14 stripes of ~28,600 values
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE sparse (id BIGINT PRIMARY KEY, updated_at DATETIME, KEY (updated_at, id))")
        cur.executemany("INSERT INTO sparse VALUES (%s, '2025-01-01 00:00:00')", [(k,) for k in keys])
    s = mysql_server
    with connectorx_source(s["host"], s["port"], s["user"], s["password"], parallel=3) as src:
        schema = src.discover(TableRef(mysql_db, "sparse"))
        batches = list(src.read_batches(schema, scan_start(src, schema), UPPER, 50))
        assert ids_of(batches) == sorted(keys)
        assert max(b.batch.num_rows for b in batches) <= 50
        assert batches[-1].end == Position(cursor="2025-01-01 00:00:00.000000", key=(400_399,), nulls_done=True)
        resumed = list(src.read_batches(schema, Position(scan=InitialScan(UPPER, (400_199,))), UPPER, 50))
        assert ids_of(resumed) == [k for k in sorted(keys) if k > 400_199]


def test_an_incremental_run_far_behind_catches_up_in_primary_key_order_and_resumes(run_cli, make_env, mysql_server, mysql_db, tmp_path):
    """Most of the table after the watermark (issue 17): the run reads it as a catch-up scan in
    primary-key order, keeps the watermark's position while it runs, resumes after an interruption
    (on the other path), takes every row after the watermark exactly once and ends where a keyset
    read would have."""
    n = 120_000  # above CATCH_UP_MIN_ROWS; cursors out of key order, 7 rows share each second
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE far (id INT PRIMARY KEY, updated_at DATETIME, v VARCHAR(12), KEY (updated_at, id))")
        cur.execute(f"INSERT INTO far SELECT seq, TIMESTAMP'2025-01-01 00:00:00' + INTERVAL ((seq * 7919) MOD {n}) DIV 7 SECOND, "
                    f"CONCAT('v', seq) FROM seq_1_to_{n}")
        cur.execute("ANALYZE TABLE far")
        cur.fetchall()
        cur.execute("SELECT id FROM far WHERE updated_at > '2025-01-01 00:30:00' ORDER BY id")
        expected = [r[0] for r in cur.fetchall()]
    assert len(expected) > n * 0.7
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}")
    assert run_cli("--run", "watermark", "set", "-t", "far", "--timestamp", "2025-01-01 00:30:00", "--force", env=env).returncode == 0
    dry = run_cli("--run", "backup", "-t", "far", "--dry-run", env=env)
    assert "catch-up in primary-key order (id) of the rows with updated_at after 2025-01-01 00:30:00" in dry.stdout, dry.stdout

    part = run_cli("--run", "backup", "-t", "far", "--batch-size", "10000", "--limit", "30000", "--json", env=env)
    assert part.returncode == 0, part.stderr
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "far", "--json", env=env).stdout)
    assert wm["initial_scan"]["catch_up"] is True and wm["initial_scan"]["after_key"] == [expected[29_999]]
    assert wm["last_data_timestamp"].startswith("2025-01-01 00:30:00")  # the position it started from, kept
    shown = run_cli("--run", "watermark", "get", "-t", "far", env=env).stdout
    assert "Catch-up:" in shown and "First Full Backup:" not in shown, shown
    assert f"catch-up in primary-key order in progress, through key {expected[29_999]}" in shown, shown

    rest = run_cli("--run", "backup", "-t", "far", "--batch-size", "7000", "--extract-engine", "pymysql", "--json", env=env)
    assert rest.returncode == 0, rest.stderr
    ids = Counter(i for p in sorted(store.rglob("*.parquet")) for i in pq.read_table(p).column("id").to_pylist())
    assert sorted(ids) == expected and max(ids.values()) == 1
    wm = json.loads(run_cli("--run", "watermark", "get", "-t", "far", "--json", env=env).stdout)
    assert wm["initial_scan"] is None
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT updated_at, id FROM far ORDER BY updated_at DESC, id DESC LIMIT 1")
        newest = cur.fetchone()
        cur.execute("INSERT INTO far VALUES (0, '2025-01-02 00:00:00', 'new')")
    assert (wm["last_data_timestamp"], wm["last_key"]) == (newest[0].strftime("%Y-%m-%d %H:%M:%S.%f"), [newest[1]])
    after = run_cli("--run", "backup", "-t", "far", "--dry-run", env=env)
    assert "catch-up" not in after.stdout and "estimated rows: 1" in after.stdout


def test_a_run_catches_up_from_exactly_the_share_of_the_table_after_its_watermark(mysql_server, mysql_db):
    """The catch-up probe's edge (issue 17): a window of ``CATCH_UP_SHARE`` of the table's estimated
    rows is a catch-up, one row fewer is not, and the estimate it is measured against is InnoDB's."""
    n = CATCH_UP_MIN_ROWS
    enough = int(n * CATCH_UP_SHARE)
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE edge (id INT PRIMARY KEY, updated_at DATETIME, KEY (updated_at, id))")
        cur.execute(f"INSERT INTO edge SELECT seq, TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_{n}")
    src = MySQLSource(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"])
    try:
        schema = replace(src.discover(TableRef(mysql_db, "edge")), estimated_rows=n)
        first = dt.datetime(2025, 1, 1)

        def after_row(k: int) -> Position:  # the window is the rows after row k
            return Position(cursor=(first + dt.timedelta(seconds=k)).strftime("%Y-%m-%d %H:%M:%S"), key=(k,), nulls_done=True)

        assert src.catch_up(schema, after_row(n - enough), UPPER) is True  # exactly `enough` rows after it
        assert src.catch_up(schema, after_row(n - enough + 1), UPPER) is False  # one fewer
        assert src.catch_up(replace(schema, estimated_rows=n - 1), after_row(n), UPPER) is False  # below the size floor
    finally:
        src.close()
