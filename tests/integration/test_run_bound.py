"""The run's upper bound against real MariaDB, on both extraction paths: second-precision cursors,
late commits (open transactions), integer version cursors, and the zone DATETIME cursors are
written in. What a user checks: after the writers stop, the store holds the latest version of
every row, each version once.
"""

from __future__ import annotations

import threading
import uuid

import pymysql
import pytest

from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import connectorx_source
from s3rb_tui.engine.ops.health import check_all
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.backups import (
    ENGINES, engine_backup, latest_by_key, stored_rows, wait_for_next_second,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SOURCES = {
    "pymysql": lambda s: MySQLSource(s["host"], s["port"], s["user"], s["password"]),
    "fast": lambda s: connectorx_source(s["host"], s["port"], s["user"], s["password"], parallel=1),
}


def sql(server: dict, db: str, *statements: str, session: tuple[str, ...] = ()) -> list:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        for s in session + statements:
            cur.execute(s)
        return list(cur.fetchall())


def env_for(make_env, tmp_path, **extra) -> dict:
    return make_env(STORE_URL=f"file://{tmp_path / 'store'}", **extra)


# --- second-precision cursors ---------------------------------------------------------------

@pytest.mark.parametrize("path", list(SOURCES))
def test_a_second_precision_cursor_is_bounded_at_the_last_complete_second(path, mysql_server, mysql_db):
    """A row read during second S and changed again later in S keeps cursor S: the run must not
    read second S before it is over (a writer connection pins its clock to S with SET timestamp)."""
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, "
        "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)")
    second = 1_900_000_000  # 2030-03-17 17:46:40 UTC
    writer = mariadb.connect(mysql_server, mysql_db)
    src = SOURCES[path](mysql_server)
    try:
        with writer.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"SET timestamp = {second}")
            cur.execute("INSERT INTO t (id, v) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)")
        schema = src.discover(TableRef(mysql_db, "t"))
        during = "2030-03-17 17:46:40.500000"  # the run starts in the middle of second S
        first = list(src.read_batches(schema, Position(), during, 2))
        with writer.cursor() as cur:  # later in the same second: every row changes again
            cur.execute("UPDATE t SET v = 1")
        start = first[-1].end if first else Position()
        later = "2030-03-17 17:46:41.500000"
        second_run = list(src.read_batches(schema, start, later, 2))
    finally:
        writer.close()
        src.close()
    rows = [r for b in first + second_run for r in b.batch.to_pylist()]
    stale = [i for i, r in latest_by_key(rows).items() if r["v"] != 1]
    assert sorted(latest_by_key(rows)) == [1, 2, 3, 4, 5]
    assert stale == [], f"{len(stale)} of 5 rows stale"
    assert not first  # second S was not complete when the first run started


@pytest.mark.parametrize("engine", ENGINES)
def test_busy_writer_on_a_second_precision_cursor_every_final_version_is_stored(
        engine, make_env, mysql_server, mysql_db, tmp_path):
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, "
        "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        "INSERT INTO t (id, v) SELECT seq, 0 FROM seq_1_to_20")
    env = env_for(make_env, tmp_path, BACKUP_BATCH_SIZE="3")
    stop = threading.Event()
    updates = [0]

    def write() -> None:  # a real concurrent connection: one row after another, over and over
        with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("UPDATE t SET v = v + 1 WHERE id = %s", (20 - updates[0] % 20,))
                updates[0] += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for run in range(6):
            seen = updates[0]
            wait_until(lambda: updates[0] >= seen + 25, 30, "the writer changing rows")
            assert engine_backup(env, "t", engine, batch_size=3).ok
    finally:
        stop.set()
        writer.join(30)
    wait_for_next_second(mysql_server)
    assert engine_backup(env, "t", engine, batch_size=3).ok
    final = {i: v for i, v in sql(mysql_server, mysql_db, "SELECT id, v FROM t")}
    stored = {i: r["v"] for i, r in latest_by_key(stored_rows(tmp_path / "store", f"{mysql_db}.t")).items()}
    stale = {i: (stored.get(i), v) for i, v in final.items() if stored.get(i) != v}
    assert not stale, f"{len(stale)} of 20 rows stale in the store (stored, source): {stale}"


# --- late commits -----------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_a_transaction_that_commits_after_a_run_passed_its_cursor_is_not_lost(
        engine, make_env, mysql_server, mysql_db, tmp_path):
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(20), "
        "updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))")
    env = env_for(make_env, tmp_path)
    late = mariadb.connect(mysql_server, mysql_db)
    try:
        with late.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO t (id, note) VALUES (1, 'late')")  # cursor T1, not committed
        sql(mysql_server, mysql_db, "INSERT INTO t (id, note) VALUES (2, 'early')")  # T2 > T1, committed
        first = engine_backup(env, "t", engine)
        assert first.ok, first.error
        with late.cursor() as cur:
            cur.execute("COMMIT")
    finally:
        late.close()
    second = engine_backup(env, "t", engine)
    assert second.ok, second.error
    ids = sorted(r["id"] for r in stored_rows(tmp_path / "store", f"{mysql_db}.t"))
    assert ids == [1, 2], f"stored ids {ids}"
    assert first.details["bound"]["limited_by"] == "open transaction"


@pytest.fixture
def user_without_process(mysql_server, mysql_db):
    """A MariaDB user that may read the test database but lacks the PROCESS privilege."""
    name, password = f"s3rbnp{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex[:12]}"
    with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))
            cur.execute(f"GRANT SELECT, SHOW VIEW ON `{mysql_db}`.* TO %s@%s", (name, host))
    yield name, password
    with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_process_privilege_the_run_falls_back_to_the_lag_and_says_why(
        engine, make_env, mysql_server, mysql_db, tmp_path, user_without_process):
    user, password = user_without_process
    with pytest.raises(pymysql.err.OperationalError):  # the view really is closed to this user
        with pymysql.connect(host=mysql_server["host"], port=mysql_server["port"], user=user, password=password) as c, c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME(6))",
        "INSERT INTO t VALUES (1, '2024-01-01 00:00:00')")
    env = env_for(make_env, tmp_path, DB_USER=user, DB_PASSWORD=password, BACKUP_LAG_SECONDS="120")
    result = engine_backup(env, "t", engine)
    assert result.ok and result.rows == 1, result.error
    [warning] = [w for w in result.warnings if "INNODB_TRX" in w]
    assert "PROCESS" in warning and "BACKUP_LAG_SECONDS" in warning and "120" in warning
    assert result.details["bound"]["limited_by"] == "lag"


# --- integer version cursors ------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_an_integer_version_committed_late_is_taken_by_the_overlap_window_once(
        engine, make_env, mysql_server, mysql_db, tmp_path):
    sql(mysql_server, mysql_db, "CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(20), update_time BIGINT NOT NULL)",
        "INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
    env = env_for(make_env, tmp_path, BACKUP_VERSION_OVERLAP="50")
    assert engine_backup(env, "t", engine).rows == 3
    late = mariadb.connect(mysql_server, mysql_db)
    try:
        with late.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO t VALUES (4, 'late', 100)")  # version 100, not committed yet
        sql(mysql_server, mysql_db, "INSERT INTO t VALUES (5, 'early', 101)")
        first = engine_backup(env, "t", engine)
        assert first.ok, first.error
        with late.cursor() as cur:
            cur.execute("COMMIT")
    finally:
        late.close()
    second = engine_backup(env, "t", engine)
    third = engine_backup(env, "t", engine)  # nothing new: the window re-reads, writes nothing
    assert second.ok and third.ok and third.rows == 0 and third.status == "no new data"
    assert second.rows == 1 and second.details["version_overlap"]["rows_already_stored"] == 1  # 101 read again, dropped
    assert third.details["version_overlap"]["rows_already_stored"] == 2  # 100 and 101
    ids = sorted(r["id"] for r in stored_rows(tmp_path / "store", f"{mysql_db}.t"))
    assert ids == [1, 2, 3, 4, 5], f"stored ids {ids}"


# --- time zones ---------------------------------------------------------------------------------

def _zone_table(server: dict, db: str) -> None:
    sql(server, db, "CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME(6) NOT NULL)")


@pytest.mark.parametrize("engine", ENGINES)
def test_datetime_cursors_written_ahead_of_utc_are_taken_with_their_zone(engine, make_env, mysql_server, mysql_db, tmp_path):
    _zone_table(mysql_server, mysql_db)
    sql(mysql_server, mysql_db, "INSERT INTO t VALUES (1, NOW(6))", session=("SET time_zone = '+09:00'",))
    env = env_for(make_env, tmp_path, DB_DATETIME_ZONE="+09:00")
    result = engine_backup(env, "t", engine)
    assert result.ok and result.rows == 1, (result.error, result.details.get("upper_bound"))
    assert result.details["bound"]["zone"] == "+09:00"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_late_row_of_a_writer_behind_utc_is_not_lost(engine, make_env, mysql_server, mysql_db, tmp_path):
    """A writer at -05:00 commits a row late (its cursor 100 s old); the run before it must not
    have read past that cursor (a bound in UTC is five hours ahead of the writer's clock)."""
    _zone_table(mysql_server, mysql_db)
    env = env_for(make_env, tmp_path, DB_DATETIME_ZONE="-05:00", BACKUP_LAG_SECONDS="60")
    writer_zone = ("SET time_zone = '-05:00'",)
    sql(mysql_server, mysql_db, "INSERT INTO t VALUES (1, NOW(6) - INTERVAL 200 SECOND), (2, NOW(6) - INTERVAL 10 SECOND)",
        session=writer_zone)
    first = engine_backup(env, "t", engine)
    assert first.ok, first.error
    # the late row: stamped by the application 100 s ago, committed only now
    sql(mysql_server, mysql_db, "INSERT INTO t VALUES (3, NOW(6) - INTERVAL 100 SECOND)", session=writer_zone)
    assert engine_backup(env, "t", engine).ok
    ids = sorted(r["id"] for r in stored_rows(tmp_path / "store", f"{mysql_db}.t"))
    assert ids == [1, 3], f"stored ids {ids} (row 2 is younger than the lag: a later run's)"
    ws = Workspace(build_settings(env))
    try:  # status measures the lag in the cursor's zone too: minutes, not five hours
        [st] = check_all(ws, [ws.table_ref("t")]).tables
    finally:
        ws.close()
    assert 60 <= st.lag_seconds < 600, st.lag_seconds


def test_the_default_zone_is_the_servers_own_and_dry_run_shows_it(make_env, mysql_server, mysql_db, tmp_path, run_cli):
    _zone_table(mysql_server, mysql_db)
    sql(mysql_server, mysql_db, "INSERT INTO t VALUES (1, NOW(6))")  # a session in the server's own zone
    env = env_for(make_env, tmp_path)
    dry = run_cli("--run", "backup", "-t", "t", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    [zone] = sql(mysql_server, mysql_db, "SELECT @@global.time_zone")[0]
    assert f"DATETIME in the server's time zone ({zone}" in dry.stdout, dry.stdout
    shown = run_cli("--run", "config", env=env)
    assert "DB_DATETIME_ZONE" in shown.stdout and "in the server's own time zone" in shown.stdout
