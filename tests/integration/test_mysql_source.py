"""MySQLSource against the real MariaDB: discovery, connection errors, keyset pagination over
ties (Sakila's rental: ~16,000 rows share one last_update), resume, NULL cursors, upper bounds,
snapshots and counts."""

from __future__ import annotations

import datetime as dt
import json

import pymysql
import pytest

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.core.table_names import TableRef

pytestmark = pytest.mark.integration


@pytest.fixture
def source(mysql_server):
    src = MySQLSource(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"])
    yield src
    src.close()


@pytest.fixture
def sql(mysql_server, mysql_db):
    conn = pymysql.connect(
        host=mysql_server["host"], port=mysql_server["port"], user=mysql_server["user"],
        password=mysql_server["password"], database=mysql_db, charset="utf8mb4", autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )

    def run(statement, params=None):
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    yield run
    conn.close()


def _roundtrip(position: Position) -> Position:
    """The Position as the watermark stores it (JSON) and gives it back."""
    doc = json.loads(json.dumps({"cursor": position.cursor, "key": position.key, "nulls_done": position.nulls_done}))
    return Position(cursor=doc["cursor"], key=None if doc["key"] is None else tuple(doc["key"]), nulls_done=doc["nulls_done"])


def _ids(batches, *cols):
    return [tuple(r[c] for c in cols) for b in batches for r in b.batch.to_pylist()]


# --- connection and discovery ----------------------------------------------------------

def test_wrong_password_names_host_and_user_never_the_password(mysql_server):
    secret = "not-the-Password-42"
    with pytest.raises(JobError) as err:
        MySQLSource(mysql_server["host"], mysql_server["port"], "s3rb_nobody", secret)
    text = str(err.value)
    assert f"{mysql_server['host']}:{mysql_server['port']}" in text and "s3rb_nobody" in text
    assert "DB_USER/DB_PASSWORD" in text and secret not in text and "\n" not in text


def test_discover_sakila(source, sakila_shared):
    rental = source.discover(TableRef(sakila_shared, "rental"))
    assert rental.primary_key == ("rental_id",) and rental.cursor_column == "last_update"
    assert rental.incremental and not rental.is_view
    assert rental.column("last_update").data_type == "timestamp"
    film_actor = source.discover(TableRef(sakila_shared, "film_actor"))
    assert film_actor.primary_key == ("actor_id", "film_id")
    assert film_actor.order_columns == ("last_update", "actor_id", "film_id")
    view = source.discover(TableRef(sakila_shared, "actor_info"))
    assert view.is_view and not view.incremental
    film = source.discover(TableRef(sakila_shared, "film"))
    assert film.column("rental_rate").precision == 4 and film.column("rental_rate").scale == 2
    assert film.column("rating").data_type == "enum" and film.column("special_features").data_type == "set"


def test_list_tables_marks_views(source, sakila_shared):
    tables = source.list_tables(sakila_shared)
    base = {t.ref.name for t in tables if not t.is_view}
    views = {t.ref.name for t in tables if t.is_view}
    assert len(base) == 16 and "rental" in base
    assert "actor_info" in views and "sales_by_store" in views
    rental = next(t for t in tables if t.ref.name == "rental")
    assert rental.estimated_rows and rental.estimated_rows > 10000 and rental.estimated_bytes > 0


def test_missing_table_is_a_job_error(source, mysql_db):
    with pytest.raises(JobError, match=rf"table {mysql_db}\.nope not found in MySQL"):
        source.discover(TableRef(mysql_db, "nope"))


def test_overrides_and_now(source, sql, mysql_db):
    sql("CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, changed DATETIME, updated_at INT)")
    s = source.discover(TableRef(mysql_db, "t"), cursor_override="changed", key_override=("b", "a"))
    assert s.cursor_column == "changed" and s.primary_key == ("b", "a")
    with pytest.raises(JobError, match="cursor column 'nope'"):
        source.discover(TableRef(mysql_db, "t"), cursor_override="nope")
    server_now = sql("SELECT UTC_TIMESTAMP(6)")[0][0]
    assert abs((source.now() - server_now).total_seconds()) < 5


# --- keyset pagination ------------------------------------------------------------------

def test_rental_ties_every_row_once_in_order(source, sakila_shared):
    schema = source.discover(TableRef(sakila_shared, "rental"))
    upper = source.now()
    batches = list(source.read_batches(schema, Position(), upper, 1000))
    got = _ids(batches, "rental_id")
    expected = [tuple(r) for r in source.query(
        f"SELECT rental_id FROM {schema.ref.mysql()} ORDER BY last_update, rental_id")]
    assert got == expected and len(set(got)) == len(got) > 16000
    assert all(b.batch.num_rows == 1000 for b in batches[:-1]) and 0 < batches[-1].batch.num_rows <= 1000
    assert source.count(schema, Position(), upper) == len(got)
    # a second read from the end finds nothing
    assert list(source.read_batches(schema, _roundtrip(batches[-1].end), upper, 1000)) == []


def test_composite_key_ties_and_resume_mid_run(source, sakila_shared):
    schema = source.discover(TableRef(sakila_shared, "film_actor"))
    upper = source.now()
    full = list(source.read_batches(schema, Position(), upper, 1000))
    rows = _ids(full, "actor_id", "film_id")
    assert len(rows) == len(set(rows)) == source.count(schema) == 5462
    assert rows == [tuple(r) for r in source.query(
        f"SELECT actor_id, film_id FROM {schema.ref.mysql()} ORDER BY last_update, actor_id, film_id")]
    middle = _roundtrip(full[2].end)
    assert isinstance(middle.cursor, str) and len(middle.key) == 2
    rest = list(source.read_batches(schema, middle, upper, 1000))
    assert _ids(rest, "actor_id", "film_id") == rows[3000:]
    assert source.count(schema, middle, upper) == len(rows) - 3000


def test_limit_stops_after_that_many_rows(source, sakila_shared):
    schema = source.discover(TableRef(sakila_shared, "rental"))
    batches = list(source.read_batches(schema, Position(), source.now(), 1000, limit=2500))
    assert [b.batch.num_rows for b in batches] == [1000, 1000, 500]


@pytest.mark.parametrize("cursor_type", ["TIMESTAMP(6) NULL", "DATETIME", "DATE"])
def test_null_cursors_ties_and_upper_bound(source, sql, mysql_db, cursor_type):
    sql(f"CREATE TABLE t (id INT PRIMARY KEY, updated_at {cursor_type})")
    sql("INSERT INTO t VALUES (1, NULL), (2, '2026-01-01'), (3, NULL), (4, '2026-01-01'), (5, '2026-01-02'), (6, '2026-03-01')")
    schema = source.discover(TableRef(mysql_db, "t"))
    upper = "2026-02-01 00:00:00.000000"  # as the backup job passes it
    first = list(source.read_batches(schema, Position(), upper, 2))
    assert _ids(first, "id") == [(1,), (3,), (2,), (4,), (5,)]  # NULL cursors first; row 6 is after the bound
    assert sum(b.null_cursor_rows for b in first) == 2
    end = _roundtrip(first[-1].end)
    assert end.nulls_done and end.cursor.startswith("2026-01-02") and end.key == (5,)
    # new rows: a tie with the last cursor value (higher key), a NULL cursor, one past the bound
    sql("INSERT INTO t VALUES (7, '2026-01-02'), (8, NULL), (9, '2026-01-15'), (10, '2026-02-02')")
    second = list(source.read_batches(schema, end, upper, 2))
    assert _ids(second, "id") == [(7,), (9,)]
    assert sum(b.null_cursor_rows for b in second) == 0
    assert list(source.read_batches(schema, _roundtrip(second[-1].end), upper, 2)) == []
    everything = list(source.read_batches(schema, end, dt.datetime(2027, 1, 1), 100))  # a datetime works too
    assert _ids(everything, "id") == [(7,), (9,), (10,), (6,)]


def test_date_cursor_stops_at_the_last_complete_day(source, sql, mysql_db):
    sql("CREATE TABLE t (id INT PRIMARY KEY, last_update DATE)")
    sql("INSERT INTO t VALUES (1, '2026-01-30'), (2, '2026-01-31'), (3, '2026-02-01')")
    schema = source.discover(TableRef(mysql_db, "t"))
    first = list(source.read_batches(schema, Position(), "2026-02-01 18:00:00.000000", 10))
    assert _ids(first, "id") == [(1,), (2,)]  # 2026-02-01 may still change: next run
    assert first[-1].end.cursor == "2026-01-31"
    sql("UPDATE t SET last_update = '2026-02-01' WHERE id = 1")  # a lower key changes later that day
    second = list(source.read_batches(schema, _roundtrip(first[-1].end), dt.datetime(2026, 2, 2, 0, 0, 1), 10))
    assert _ids(second, "id") == [(1,), (3,)]


def test_integer_cursor_is_not_bounded_by_the_clock(source, sql, mysql_db):
    sql("CREATE TABLE t (id INT PRIMARY KEY, update_time BIGINT)")
    sql("INSERT INTO t VALUES (1, 1700000000), (2, 1700000000), (3, 5)")
    schema = source.discover(TableRef(mysql_db, "t"))
    assert schema.cursor_column == "update_time"
    for upper in (source.now(), "2026-01-01 00:00:00.000000"):
        got = list(source.read_batches(schema, Position(), upper, 1))
        assert _ids(got, "id") == [(3,), (1,), (2,)] and got[-1].end.cursor == 1700000000


def test_lost_connection_between_batches_is_retried_without_skips(mysql_server, sql, mysql_db):
    sql("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME)")
    sql("INSERT INTO t SELECT seq, '2026-01-01' FROM seq_1_to_5000")
    retried = []
    src = MySQLSource(mysql_server["host"], mysql_server["port"], mysql_server["user"], mysql_server["password"],
                      retries=2, log=lambda event, **fields: retried.append(event))
    with src:
        schema = src.discover(TableRef(mysql_db, "t"))
        stream = src.read_batches(schema, Position(), "2030-01-01", 1000)
        ids = [r["id"] for r in next(stream).batch.to_pylist()]
        (conn_id,) = src.query("SELECT CONNECTION_ID()")[0]
        sql(f"KILL {int(conn_id)}")
        for b in stream:
            ids.extend(r["id"] for r in b.batch.to_pylist())
    assert ids == list(range(1, 5001))
    assert retried == ["retrying after a transient error"]


# --- snapshots and counts -----------------------------------------------------------------

def test_snapshot_tables_stream_whole_table(source, sql, mysql_db):
    sql("CREATE TABLE nokey (v INT, updated_at DATETIME)")
    sql("CREATE TABLE nocursor (id INT PRIMARY KEY, v VARCHAR(10))")
    for i in range(0, 2500, 500):
        sql("INSERT INTO nokey VALUES " + ", ".join(f"({j}, '2026-01-01')" for j in range(i, i + 500)))
        sql("INSERT INTO nocursor VALUES " + ", ".join(f"({2500 - j}, 'v{j}')" for j in range(i, i + 500)))
    nokey = source.discover(TableRef(mysql_db, "nokey"))
    assert not nokey.incremental and nokey.cursor_column == "updated_at"
    batches = list(source.read_batches(nokey, Position(), source.now(), 1000))
    assert [b.batch.num_rows for b in batches] == [1000, 1000, 500]
    assert sorted(r[0] for r in _ids(batches, "v")) == list(range(2500))
    assert batches[-1].end.cursor == "2026-01-01 00:00:00.000000"
    nocursor = source.discover(TableRef(mysql_db, "nocursor"))
    rows = _ids(source.read_batches(nocursor, Position(), source.now(), 700), "id")
    assert rows == [(i,) for i in range(1, 2501)]  # ordered by the primary key
    assert source.count(nocursor) == 2500 and source.distinct_keys(nocursor) == 2500
    assert source.distinct_keys(nokey) is None


def test_stopping_a_snapshot_early_leaves_the_source_usable(source, sql, mysql_db):
    sql("CREATE TABLE big (v INT)")
    sql("INSERT INTO big SELECT seq FROM seq_1_to_20000")
    schema = source.discover(TableRef(mysql_db, "big"))
    stream = source.read_batches(schema, Position(), None, 100)
    assert next(stream).batch.num_rows == 100
    stream.close()
    assert source.count(schema) == 20000
    limited = list(source.read_batches(schema, Position(), None, 300, limit=1000))
    assert sum(b.batch.num_rows for b in limited) == 1000


def test_estimate_counts_exactly_and_sizes_from_the_catalog(source, sakila_shared):
    schema = source.discover(TableRef(sakila_shared, "rental"))
    upper = source.now()
    est = source.estimate(schema, Position(), upper)
    assert est.exact and est.rows == source.count(schema) and est.bytes and est.bytes > 0
    done = list(source.read_batches(schema, Position(), upper, 20000))[-1].end
    assert source.estimate(schema, done, upper).rows == 0
