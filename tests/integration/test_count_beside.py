"""A backup's row count (its progress total) runs beside the extraction, on a connection of its
own, against real MariaDB: the total is still exact, a server that refuses the extra connection
costs the total and not the backup, and a count still running when the run ends is killed."""

from __future__ import annotations

import uuid

import pytest

from s3rb_tui.engine.core.events import LogEvent, Progress
from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.sources.base import Position
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.waiting import wait_until


def backup_events(env: dict, table: str, engine: str) -> tuple[list, list[dict], list[dict]]:
    """(the results, the progress events' data, the log events' data) of one engine-level backup."""
    events = []
    ws = Workspace(build_settings(env))
    try:
        ctx = JobContext("backup", sink=events.append)
        results = run_backup(ws, [ws.table_ref(table)], ctx, batch_size=500, extract_engine=engine)
    finally:
        ws.close()
    return results, [e.record() for e in events if isinstance(e, Progress)], \
        [{"event": e.message, "level": e.level, **e.fields} for e in events if isinstance(e, LogEvent)]


@pytest.mark.parametrize("engine", ["fast", "pymysql"])
def test_the_progress_total_is_the_exact_count(make_env, sakila_shared, tmp_path, engine):
    with mariadb.connect(mariadb.server_from_env(), sakila_shared) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM rental")
        [(rows,)] = cur.fetchall()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    [result], progress, _ = backup_events(env, "rental", engine)
    assert result.status == "success" and result.rows == rows == 16044
    totals = [p["total"] for p in progress]
    assert set(totals) <= {None, rows}  # unknown until the count answers, then exact
    assert totals[-1] == rows and result.details["estimated_rows"] == rows
    assert result.details["estimated_bytes"] > 0


@pytest.fixture
def one_connection_user(mysql_server, sakila_shared):
    """A MariaDB user allowed a single connection at a time, with read access to Sakila."""
    name, password = f"s3rb1c{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex[:12]}"
    with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s WITH MAX_USER_CONNECTIONS 1", (name, host, password))
            cur.execute(f"GRANT SELECT, SHOW VIEW ON `{sakila_shared}`.* TO %s@%s", (name, host))
            cur.execute("GRANT PROCESS ON *.* TO %s@%s", (name, host))
    yield name, password
    with mariadb.connect(mysql_server) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))


def test_a_connection_limit_costs_the_total_not_the_backup(make_env, sakila_shared, tmp_path, one_connection_user):
    user, password = one_connection_user
    env = make_env(DB_USER=user, DB_PASSWORD=password, BACKUP_RETRY_ATTEMPTS="0", STORE_URL=f"file://{tmp_path / 'store'}")
    [result], progress, logs = backup_events(env, "payment", "pymysql")
    assert result.status == "success", result.error
    assert result.rows == 16049 and result.files == 33
    assert {p["total"] for p in progress} == {None}
    [warning] = [entry for entry in logs if entry["event"].startswith("could not count the rows")]
    assert warning["level"] == "warning" and "max_user_connections" in warning["error"]
    assert password not in repr(logs) + repr(result.to_json())


def test_a_count_still_running_when_the_run_ends_is_killed(mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME, KEY (updated_at, id))")
        cur.execute("INSERT INTO t VALUES (1, '2024-01-01'), (2, '2024-01-02')")
    s = mysql_server
    locker = mariadb.connect(mysql_server, mysql_db)
    try:
        with MySQLSource(s["host"], s["port"], s["user"], s["password"]) as source:
            schema = source.discover(TableRef(mysql_db, "t"))
            with locker.cursor() as cur:
                cur.execute("LOCK TABLES t WRITE")  # the count waits on the table's metadata lock
            pending = source.estimate_beside(schema, Position(), "2030-01-01 00:00:00")

            def waiting_counts() -> list:
                with mariadb.connect(mysql_server) as watcher, watcher.cursor() as cur:
                    cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s",
                                (f"SELECT COUNT(*) FROM `{mysql_db}`.`t`%",))
                    return cur.fetchall()

            wait_until(waiting_counts, timeout=30, what="the count to be waiting on the server")
            assert pending.known() is None
            pending.stop()
            wait_until(pending.future.done, timeout=30, what="the killed count to end")
            assert isinstance(pending.error(), JobError) and "interrupted" in str(pending.error())
            assert waiting_counts() == ()
    finally:
        locker.close()
