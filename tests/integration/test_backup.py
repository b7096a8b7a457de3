"""Backup end to end against real MariaDB (Sakila) and a real S3 endpoint (moto server over HTTP).

Values are checked with an independent reader: boto3 + pyarrow over the objects, against a plain
pymysql query — not through the engine's own code.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support import mariadb
from tests.support.s3 import data_keys
from tests.support.waiting import wait_until
from tests.support.backups import wait_for_next_second

BASE_TABLES = mariadb.SAKILA_BASE_TABLES


def s3_tables(s3_client, bucket: str, prefix: str) -> dict[str, pa.Table]:
    """Every Parquet object under ``prefix`` grouped by table (independent of the engine)."""
    out: dict[str, list[pa.Table]] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith(".parquet"):
                continue
            table = obj["Key"][len(prefix):].split("/")[0]
            body = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out.setdefault(table, []).append(pq.read_table(io.BytesIO(body)))
    return {k: pa.concat_tables(v) for k, v in out.items()}


def mysql_rows(server: dict, db: str, table: str) -> tuple[list[str], list[tuple]]:
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION", (db, table))
            cols = cur.fetchall()
            exprs = [f"ST_AsBinary(`{c}`)" if t in ("geometry", "point") else f"`{c}`" for c, t in cols]
            cur.execute(f"SELECT {', '.join(exprs)} FROM `{db}`.`{table}`")
            return [c for c, _ in cols], list(cur.fetchall())
    finally:
        conn.close()


def normalize(v):
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return v


def assert_table_equal(server, db, table, arrow_table: pa.Table):
    cols, rows = mysql_rows(server, db, table)
    assert arrow_table.column_names == cols
    ours = sorted((tuple(normalize(v) for v in r.values()) for r in arrow_table.to_pylist()), key=repr)
    theirs = sorted((tuple(normalize(v) for v in r) for r in rows), key=repr)
    assert len(ours) == len(theirs), f"{table}: {len(ours)} rows in S3, {len(theirs)} in MySQL"
    assert ours == theirs, f"{table}: values differ"


def backup(run_cli, env, *tables, extra=()):
    args = ["--run", "backup"]
    for t in tables:
        args += ["-t", t]
    proc = run_cli(*args, "--json", *extra, env=env)
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc, doc


def test_sakila_all_base_tables_exact_then_incremental(run_cli, make_env, mysql_server, sakila_db, s3_client, s3_bucket):
    env = make_env(BACKUP_BATCH_SIZE="500")
    proc, doc = backup(run_cli, env, *[f"{sakila_db}.{t}" for t in BASE_TABLES])
    assert proc.returncode == 0, proc.stderr
    assert doc["success"] and len(doc["successful_tables"]) == 16
    objects = s3_tables(s3_client, s3_bucket, "incremental/")
    assert set(objects) == {f"{sakila_db}.{t}" for t in BASE_TABLES}
    for t in BASE_TABLES:
        assert_table_equal(mysql_server, sakila_db, t, objects[f"{sakila_db}.{t}"])
    rental = next(r for r in doc["tables"] if r["table"].endswith(".rental"))
    assert rental["rows"] == 16044 and rental["files"] == 33  # 16,044 rows sharing one last_update, 500 a batch
    film_text = next(r for r in doc["tables"] if r["table"].endswith(".film_text"))
    assert film_text["details"]["mode"] == "snapshot"  # no cursor column

    # A second run with no source change writes nothing and says so.
    before = set(data_keys(s3_client, s3_bucket))
    proc, doc = backup(run_cli, env, f"{sakila_db}.rental", f"{sakila_db}.payment")
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in doc["tables"]] == ["no new data", "no new data"]
    assert set(data_keys(s3_client, s3_bucket)) == before

    # Updates (bumping last_update) and inserts are picked up, and nothing else.
    conn = mariadb.connect(mysql_server, sakila_db)
    with conn.cursor() as cur:
        cur.execute("UPDATE rental SET return_date = '2030-01-01 00:00:00', last_update = NOW() - INTERVAL 1 SECOND WHERE rental_id IN (5, 6, 16000)")
        cur.execute("INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) VALUES ('2030-02-02 10:00:00', 1, 1, 1)")
        cur.execute("SELECT LAST_INSERT_ID()")
        new_id = cur.fetchone()[0]
    conn.commit()
    conn.close()
    wait_for_next_second(mysql_server)  # last_update has whole seconds: a run takes a second once it is over
    proc, doc = backup(run_cli, env, f"{sakila_db}.rental")
    assert proc.returncode == 0, proc.stderr
    assert doc["tables"][0]["rows"] == 4
    new_keys = set(data_keys(s3_client, s3_bucket)) - before
    assert len(new_keys) == 1
    body = s3_client.get_object(Bucket=s3_bucket, Key=new_keys.pop())["Body"].read()
    got = pq.read_table(io.BytesIO(body)).to_pylist()
    assert sorted(r["rental_id"] for r in got) == sorted([5, 6, 16000, new_id])
    assert all(r["return_date"] == dt.datetime(2030, 1, 1) for r in got if r["rental_id"] != new_id)

    wm = run_cli("--run", "watermark", "get", "-t", f"{sakila_db}.rental", "--json", env=env)
    summary = json.loads(wm.stdout)
    assert summary["session"] == {"extracted": 4, "loaded": 0}
    assert summary["cumulative"] == {"extracted": 16048, "loaded": 0}
    assert summary["backup_strategy"] == "sequential" and summary["mysql_status"] == "success"
    assert summary["last_key"] == [new_id]


def test_sigkill_mid_run_then_rerun_leaves_each_row_once(make_env, sakila_db, s3_client, s3_bucket, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **make_env(BACKUP_BATCH_SIZE="100")}
    table = f"{sakila_db}.rental"
    proc = subprocess.Popen([sys.executable, "-m", "s3rb_tui", "--run", "backup", "-t", table], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(data_keys(s3_client, s3_bucket)) >= 8 or proc.poll() is not None, 120, "8 files written")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    written_before_kill = len(data_keys(s3_client, s3_bucket))
    assert 8 <= written_before_kill < 161, "the kill must land mid-run"

    rerun = subprocess.run([sys.executable, "-m", "s3rb_tui", "--run", "backup", "-t", table, "--json"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "lock taken over" in rerun.stderr  # the dead process's lease
    ids = Counter()
    for t in s3_tables(s3_client, s3_bucket, "incremental/").values():
        ids.update(t.column("rental_id").to_pylist())
    assert len(ids) == 16044
    assert max(ids.values()) == 1, "a row was written twice"
    wm = json.loads(subprocess.run([sys.executable, "-m", "s3rb_tui", "--run", "watermark", "get", "-t", table, "--json"],
                                   env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60).stdout)
    assert wm["cumulative"]["extracted"] == 16044


def test_second_run_on_a_locked_table_exits_1_naming_the_holder(run_cli, make_env, sakila_db, s3_bucket):
    from s3rb_tui.engine.state.locks import TableLock
    from s3rb_tui.engine.core.table_names import TableRef
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import load_settings

    env = make_env()
    ws = Workspace(load_settings(environ=env))
    lock = TableLock(ws.store, TableRef(sakila_db, "actor"), purpose="backup (sequential)").acquire()
    try:
        proc = run_cli("--run", "backup", "-t", f"{sakila_db}.actor", env=env)
        assert proc.returncode == 1
        assert f"locked by backup (sequential) on host {socket.gethostname()}, pid {os.getpid()}" in proc.stdout
        assert ws.watermarks.get(TableRef(sakila_db, "actor")) is None  # nothing happened
    finally:
        lock.release()
    proc = run_cli("--run", "backup", "-t", f"{sakila_db}.actor", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wrong_password_names_host_and_user_never_the_password(run_cli, make_env, sakila_shared):
    env = make_env(DB_USER="root", DB_PASSWORD="Wr0ng-Pa55word")
    proc = run_cli("--run", "backup", "-t", f"{sakila_shared}.actor", env=env)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "Wr0ng-Pa55word" not in out
    assert "127.0.0.1:" in out and "root" in out and "Access denied" in out


def test_null_cursors_and_zero_dates_are_reported(run_cli, make_env, mysql_server, mysql_db, s3_client, s3_bucket):
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, due DATE, updated_at DATETIME(6) NULL)")
        cur.execute("INSERT INTO orders VALUES (1, '0000-00-00', NULL), (2, '2024-01-02', NULL), (3, '0000-00-00', '2024-01-01 00:00:00.5'), (4, '2024-02-02', '2024-01-01 00:00:00.5')")
    conn.commit()
    env = make_env(BACKUP_BATCH_SIZE="2")
    proc, doc = backup(run_cli, env, f"{mysql_db}.orders")
    assert proc.returncode == 0, proc.stderr
    t = doc["tables"][0]
    assert t["rows"] == 4 and t["files"] == 2
    assert t["details"]["zero_dates"] == {"due": 2}
    assert t["details"]["null_cursor_rows"] == 2
    assert any("NULL updated_at" in w for w in t["warnings"]) and any("zero dates became NULL" in w for w in t["warnings"])
    rows = sorted(sum((x.to_pylist() for x in s3_tables(s3_client, s3_bucket, "incremental/").values()), []), key=lambda r: r["id"])
    assert [r["due"] for r in rows] == [None, dt.date(2024, 1, 2), None, dt.date(2024, 2, 2)]
    # NULL-cursor rows are not taken again; a changed row is.
    with conn.cursor() as cur:
        cur.execute("UPDATE orders SET updated_at = '2024-03-03 00:00:00' WHERE id = 4")
    conn.commit()
    conn.close()
    proc, doc = backup(run_cli, env, f"{mysql_db}.orders")
    assert doc["tables"][0]["rows"] == 1


def test_watermark_set_records_manual_cli_and_backup_starts_after_it(run_cli, make_env, mysql_server, mysql_db, s3_bucket):
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE ev (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        rows = [(i, f"2025-08-0{1 + i % 9} 20:00:0{i % 3}") for i in range(1, 31)]
        cur.executemany("INSERT INTO ev VALUES (%s, %s)", rows)
    expected = sum(1 for _, ts in rows if ts > "2025-08-05 20:00:01")  # strictly after the timestamp
    assert 0 < expected < 30
    conn.commit()
    conn.close()
    env = make_env()
    t = f"{mysql_db}.ev"
    proc = run_cli("--run", "watermark", "set", "-t", t, "--timestamp", "2025-08-05 20:00:01", "--force", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"source rows after it: {expected}\n" in proc.stdout
    got = json.loads(run_cli("--run", "watermark", "get", "-t", t, "--json", env=env).stdout)
    assert got["backup_strategy"] == "manual_cli" and got["last_data_timestamp"] == "2025-08-05 20:00:01"
    assert got["last_extraction_time"] is None
    proc, doc = backup(run_cli, env, t)
    assert doc["tables"][0]["rows"] == expected
    listed = json.loads(run_cli("--run", "watermark", "list", "--json", env=env).stdout)
    assert [w["table"] for w in listed] == [t] and listed[0]["backup_strategy"] == "sequential"
    proc = run_cli("--run", "watermark", "reset", "-t", t, "--force", env=env)
    assert proc.returncode == 0
    proc, doc = backup(run_cli, env, t)
    assert doc["tables"][0]["rows"] == 30  # full backup after a reset


def test_lost_mysql_connection_mid_run_resumes_from_the_last_batch(make_env, mysql_server, sakila_db, s3_client, s3_bucket):
    """A real KILL CONNECTION of the extraction session after 3 batches: the run reconnects, resumes
    after the last committed batch and ends with every row exactly once."""
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.core.jobs import JobContext
    from s3rb_tui.engine.core.table_names import TableRef
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import load_settings

    ws = Workspace(load_settings(environ=make_env(BACKUP_BATCH_SIZE="1000", BACKUP_RETRY_ATTEMPTS="3")))
    killed, logs, opened = [], [], []
    open_source = ws.open_source

    def recording_open_source():  # remember the sources the job opens, to find its server session
        source = open_source()
        opened.append(source)
        return source

    ws.open_source = recording_open_source

    from s3rb_tui.engine.core.events import LogEvent, Progress

    def sink(ev):
        if isinstance(ev, LogEvent):
            logs.append(ev.message)
        if isinstance(ev, Progress) and ev.files == 3 and not killed:
            session = opened[-1]._conn.thread_id()
            admin = mariadb.connect(mysql_server)
            with admin.cursor() as cur:
                cur.execute(f"KILL CONNECTION {int(session)}")
            admin.close()
            killed.append(session)

    results = run_backup(ws, [TableRef(sakila_db, "rental")], JobContext("backup", sink=sink), extract_engine="pymysql")
    assert killed, f"the extraction connection was found and killed: {results[0].error}"
    assert results[0].status == "success", results[0].error
    assert "retrying after a transient error" in logs
    ids = Counter()
    for t in s3_tables(s3_client, s3_bucket, "incremental/").values():
        ids.update(t.column("rental_id").to_pylist())
    assert len(ids) == 16044 and max(ids.values()) == 1
    assert results[0].rows == 16044 and ws.watermarks.get(TableRef(sakila_db, "rental")).cumulative.extracted == 16044


def test_inter_table_strategy_and_dry_run(run_cli, make_env, sakila_shared, s3_client, s3_bucket):
    env = make_env(BACKUP_MAX_WORKERS="3")
    tables = [f"{sakila_shared}.{t}" for t in ("actor", "city", "film_text", "payment")]
    args = [a for t in tables for a in ("-t", t)]
    dry = run_cli("--run", "backup", *args, "--dry-run", "--estimate", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"{sakila_shared}.payment: first full backup in primary-key order (payment_id) from the beginning" in dry.stdout
    assert "estimated rows: 16,049" in dry.stdout  # payment
    assert f"{sakila_shared}.film_text: snapshot backup" in dry.stdout
    assert data_keys(s3_client, s3_bucket, "") == []  # a dry run writes nothing at all
    proc, doc = backup(run_cli, env, *tables, extra=("-s", "inter-table"))
    assert proc.returncode == 0, proc.stderr
    assert doc["strategy"] == "inter-table" and sorted(doc["successful_tables"]) == sorted(tables)
    assert {r["table"]: r["rows"] for r in doc["tables"]} == {tables[0]: 200, tables[1]: 600, tables[2]: 1000, tables[3]: 16049}
