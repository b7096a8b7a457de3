"""SSH bastion tunnels against a real OpenSSH server, MariaDB and the S3 endpoint (nothing patched)."""

from __future__ import annotations

import socket
import threading
import time

import psutil
import pymysql
import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.core.retry import is_transient
from s3rb_tui.engine.wiring.tunnels import HostKeyError, open_tunnel_for
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.sshd import fingerprint, keygen, known_hosts_line
from tests.support.waiting import port_open, wait_until

pytestmark = pytest.mark.integration


def bastion_env(make_env, sshd, **overrides) -> dict:
    values = dict(
        SSH_BASTION_HOST=sshd.host, SSH_BASTION_PORT=sshd.port, SSH_BASTION_USER=sshd.user,
        SSH_BASTION_KEY_PATH=sshd.key_path, SSH_KNOWN_HOSTS=sshd.known_hosts_path, BACKUP_TIMEOUT_SECONDS=10,
    )
    return make_env(**{**values, **overrides})


def query_through(port: int, server: dict, sql: str):
    conn = pymysql.connect(host="127.0.0.1", port=port, user=server["user"], password=server["password"],
                           connect_timeout=10, read_timeout=20)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def session_children(sshd) -> set[int]:
    """Per-connection sshd processes (children of the listener)."""
    return {p.pid for p in psutil.Process(sshd.pid).children(recursive=False)}


def kill_new_sessions(sshd, before: set[int]) -> int:
    """SIGKILL every per-connection sshd started after ``before`` was taken, with its privilege-separated
    child (the process that holds the client's TCP connection)."""
    killed = []
    for proc in psutil.Process(sshd.pid).children(recursive=False):
        if proc.pid not in before:
            for p in [*proc.children(recursive=True), proc]:
                try:
                    p.kill()
                    killed.append(p)
                except psutil.NoSuchProcess:
                    pass
    psutil.wait_procs(killed, timeout=10)
    return len(killed)


def test_mysql_query_through_the_tunnel_on_loopback_only(make_env, sshd, mysql_server):
    logged = []
    settings = build_settings(bastion_env(make_env, sshd))
    tunnel = open_tunnel_for(settings, "mysql", log=lambda event, level="info", **f: logged.append((event, f)))
    try:
        assert tunnel.local_port > 0
        listening = [c for c in psutil.Process().net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == tunnel.local_port]
        assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
        assert query_through(tunnel.local_port, mysql_server, "SELECT 41 + 1") == ((42,),)
        assert tunnel.is_alive()
        tunnel.ensure()
        assert tunnel.round_trip_ms() is not None
        assert ("SSH tunnel open", {"side": "mysql", "bastion": f"{sshd.host}:{sshd.port}",
                                    "remote": f"{mysql_server['host']}:{mysql_server['port']}",
                                    "local": f"127.0.0.1:{tunnel.local_port}"}) in logged
        assert all(t.daemon for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                   and t.name != "pytest_timeout")
    finally:
        tunnel.close()
    assert not port_open("127.0.0.1", tunnel.local_port)


def test_no_bastion_means_no_tunnel(make_env):
    assert open_tunnel_for(build_settings(make_env()), "mysql") is None
    assert open_tunnel_for(build_settings(make_env()), "warehouse") is None


def test_warehouse_tunnel_falls_back_to_the_mysql_bastion_user_and_key(make_env, sshd, pg_server):
    env = bastion_env(make_env, sshd, REDSHIFT_SSH_BASTION_HOST=sshd.host, REDSHIFT_SSH_BASTION_PORT=sshd.port,
                      REDSHIFT_HOST=pg_server["host"], REDSHIFT_PORT=pg_server["port"])
    tunnel = open_tunnel_for(build_settings(env), "warehouse")
    try:
        assert tunnel.cfg.user == sshd.user and str(tunnel.cfg.key_path) == sshd.key_path
        assert tunnel.cfg.remote == f"{pg_server['host']}:{pg_server['port']}"
        with socket.create_connection(("127.0.0.1", tunnel.local_port), timeout=10) as s:
            # PostgreSQL answers an SSLRequest with one byte ('S' or 'N') through the tunnel.
            s.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
            assert s.recv(1) in (b"S", b"N")
    finally:
        tunnel.close()


def test_backup_through_the_tunnel(make_env, sshd, mysql_server, mysql_db):
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, updated_at DATETIME NOT NULL, amount DECIMAL(10,2))")
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s)",
                        [(i, f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}", i / 4) for i in range(1, 301)])
    from s3rb_tui.engine.ops.backup import run_backup

    logged = []
    ws = Workspace(build_settings(bastion_env(make_env, sshd)), log=lambda e, level="info", **f: logged.append((e, f)))
    try:
        ctx = JobContext("backup")
        [result] = run_backup(ws, [ws.table_ref("orders")], ctx, batch_size=100)
        assert result.status == "success", result.error
        assert result.rows == 300 and result.files == 3
        opened = [f for e, f in logged if e == "SSH tunnel open"]
        assert len(opened) == 1 and opened[0]["remote"] == f"{mysql_server['host']}:{mysql_server['port']}"
        wm = ws.watermarks.get(ws.table_ref("orders"))
        assert wm.cumulative.extracted == 300
    finally:
        ws.close()


def test_unknown_host_key_is_refused(make_env, sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    settings = build_settings(bastion_env(make_env, sshd, SSH_KNOWN_HOSTS=empty))
    with pytest.raises(HostKeyError) as info:
        open_tunnel_for(settings, "mysql")
    text = str(info.value)
    assert f"{sshd.host}:{sshd.port}" in text
    assert sshd.host_key_fingerprint in text
    assert f"ssh-keyscan -p {sshd.port} {sshd.host} >> {empty}" in text
    assert empty.read_text() == ""  # never auto-added


def test_changed_host_key_is_refused(make_env, sshd, tmp_path):
    other = tmp_path / "other_host_key"
    keygen(other, "not-the-bastion")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line(sshd.host, sshd.port, other.with_suffix(".pub")))
    settings = build_settings(bastion_env(make_env, sshd, SSH_KNOWN_HOSTS=known))
    with pytest.raises(HostKeyError) as info:
        open_tunnel_for(settings, "mysql")
    text = str(info.value)
    assert "CHANGED" in text and f"{sshd.host}:{sshd.port}" in text
    assert sshd.host_key_fingerprint in text and fingerprint(other.with_suffix(".pub")) in text
    assert "ssh-keyscan" in text


@pytest.fixture
def silent_listener():
    """A TCP server that accepts connections and never sends a byte."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(5)
    for c in accepted:
        c.close()
    server.close()


def test_a_bastion_that_never_sends_a_banner_fails_within_the_timeout(make_env, sshd, silent_listener):
    port, accepted = silent_listener
    settings = build_settings(bastion_env(make_env, sshd, SSH_BASTION_PORT=port, BACKUP_TIMEOUT_SECONDS=2))
    started = time.monotonic()
    with pytest.raises(JobError) as info:
        open_tunnel_for(settings, "mysql")
    elapsed = time.monotonic() - started
    assert accepted, "the client never reached the silent listener"
    assert 1.5 <= elapsed < 6.0
    assert f"127.0.0.1:{port}" in str(info.value) and "2s" in str(info.value)


def test_bad_key_for_the_user_is_refused_with_a_clear_error(make_env, sshd, tmp_path):
    stranger = tmp_path / "stranger_key"
    keygen(stranger, "stranger")
    settings = build_settings(bastion_env(make_env, sshd, SSH_BASTION_KEY_PATH=stranger))
    with pytest.raises(JobError, match=r"refused the key .*stranger_key"):
        open_tunnel_for(settings, "mysql")


def test_loose_key_permissions_are_warned_about(make_env, sshd, tmp_path):
    loose = tmp_path / "loose_key"
    loose.write_bytes(open(sshd.key_path, "rb").read())
    loose.chmod(0o644)
    logged = []
    tunnel = open_tunnel_for(build_settings(bastion_env(make_env, sshd, SSH_BASTION_KEY_PATH=loose)), "mysql",
                             log=lambda e, level="info", **f: logged.append((e, level, f)))
    tunnel.close()
    warnings = [f for e, level, f in logged if level == "warning" and "group or others" in e]
    assert warnings and f"chmod 600 {loose}" in warnings[0]["hint"]


def test_killed_session_is_detected_and_reopened_once(make_env, sshd, mysql_server):
    before = session_children(sshd)
    settings = build_settings(bastion_env(make_env, sshd))
    tunnel = open_tunnel_for(settings, "mysql")
    try:
        port = tunnel.local_port
        conn = pymysql.connect(host="127.0.0.1", port=port, user=mysql_server["user"],
                               password=mysql_server["password"], connect_timeout=10, read_timeout=20)
        assert kill_new_sessions(sshd, before) >= 1
        with pytest.raises(pymysql.err.OperationalError) as info:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        assert is_transient(info.value)
        wait_until(lambda: not tunnel.is_alive(), 10, "tunnel seen as dropped")
        tunnel.ensure()
        assert tunnel.reopened == 1 and tunnel.local_port == port
        assert query_through(tunnel.local_port, mysql_server, "SELECT 7") == ((7,),)
    finally:
        tunnel.close()


def make_events(server: dict, db: str, rows: int = 500) -> None:
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE events (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        cur.executemany("INSERT INTO events VALUES (%s, %s)",
                        [(i, f"2024-02-01 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}") for i in range(1, rows + 1)])


def read_ids(ws, table) -> list[int]:
    import pyarrow.parquet as pq

    ids = []
    for info in ws.store.list(f"{ws.incremental_path}{table.full_name}/"):
        with ws.store.open_input(info.key) as f:
            ids += pq.read_table(f).column("id").to_pylist()
    return sorted(ids)


def test_session_killed_mid_backup_fails_the_table_cleanly_and_the_next_run_reopens(make_env, sshd, mysql_server, mysql_db):
    make_events(mysql_server, mysql_db)
    from s3rb_tui.engine.ops.backup import run_backup

    before = session_children(sshd)
    logged = []
    # the pymysql path: this test is about the tunnel, not about which reader is installed
    ws = Workspace(build_settings(bastion_env(make_env, sshd, EXTRACT_ENGINE="pymysql")),
                   log=lambda e, level="info", **f: logged.append(e))
    table = ws.table_ref("events")
    seen = {}

    def kill_after_first_batch(event):
        if isinstance(event, Progress) and event.files == 1 and not seen:
            seen["watermark"] = ws.watermarks.get(table)
            seen["killed"] = kill_new_sessions(sshd, before)

    try:
        [failed] = run_backup(ws, [table], JobContext("backup", sink=kill_after_first_batch), batch_size=100)
        assert seen.get("killed", 0) >= 1
        assert failed.status == "failed" and "Lost connection" in failed.error
        after = ws.watermarks.get(table)
        assert after.committed_through == seen["watermark"].committed_through
        assert after.last_data_timestamp == seen["watermark"].last_data_timestamp
        assert after.cumulative.extracted == 100 and after.mysql_status == "failed"
        assert read_ids(ws, table) == list(range(1, 101))  # only the committed batch is in the store

        # The next run finds the tunnel dropped, reopens it once, and finishes: every row exactly once.
        [done] = run_backup(ws, [table], JobContext("backup"), batch_size=100)
        assert done.status == "success", done.error
        assert logged.count("SSH tunnel dropped; reopening") == 1
        assert ws.watermarks.get(table).cumulative.extracted == 500
        assert read_ids(ws, table) == list(range(1, 501))
    finally:
        ws.close()


def test_a_dropped_tunnel_that_cannot_be_reopened_raises(make_env, sshd, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(open(sshd.known_hosts_path).read())
    impostor = tmp_path / "impostor"
    keygen(impostor, "impostor")
    before = session_children(sshd)
    tunnel = open_tunnel_for(build_settings(bastion_env(make_env, sshd, SSH_KNOWN_HOSTS=known)), "mysql")
    try:
        # the session dies, and the bastion that answers next is not the one we know
        known.write_text(known_hosts_line(sshd.host, sshd.port, impostor.with_suffix(".pub")))
        assert kill_new_sessions(sshd, before) >= 1
        wait_until(lambda: not tunnel.is_alive(), 10, "tunnel seen as dropped")
        with pytest.raises(JobError) as info:
            tunnel.ensure()
        assert "could not be reopened" in str(info.value) and "CHANGED" in str(info.value)
        assert tunnel.reopened == 0
    finally:
        tunnel.close()


CHILD = """
import os, sys
from s3rb_tui.settings import build_settings
from s3rb_tui.engine.wiring.tunnels import open_tunnel_for
tunnel = open_tunnel_for(build_settings(dict(os.environ)), "mysql")
print(tunnel.local_port, flush=True)
if sys.argv[1] == "error":
    raise RuntimeError("the job failed with the tunnel open")
sys.stdin.read()  # until Ctrl+C
"""


@pytest.mark.parametrize("how", ["ctrl-c", "error"])
def test_the_process_exits_and_the_tunnel_closes_on_ctrl_c_and_on_error(make_env, sshd, how):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, **bastion_env(make_env, sshd)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, how], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        if how == "ctrl-c":
            assert port_open("127.0.0.1", port)
            child.send_signal(signal.SIGINT)
        code = child.wait(timeout=20)  # no thread keeps the process alive
        assert code != 0
        assert ("KeyboardInterrupt" if how == "ctrl-c" else "the job failed") in child.stderr.read()
        assert not port_open("127.0.0.1", port)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
