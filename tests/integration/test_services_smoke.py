"""Each fixture in tests/support/services.py really works against its real service."""

from __future__ import annotations

import os
import signal

import paramiko
import psycopg2
import pytest

from tests.support import mariadb, s3
from tests.support import sshd as sshd_support
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _scalar(server: dict, database: str, sql: str):
    with mariadb.connect(server, database) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_sakila_db_is_a_full_private_copy(mysql_server, sakila_db):
    assert _scalar(mysql_server, sakila_db, "SELECT COUNT(*) FROM rental") == 16044
    with mariadb.connect(mysql_server, sakila_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (sakila_db,))
        kinds = dict(cur.fetchall())
        cur.execute("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (sakila_db,))
        triggers = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM film_list")  # a view that named sakila.* now reads this copy
        film_list_rows = cur.fetchone()[0]
    assert sorted(t for t, k in kinds.items() if k == "BASE TABLE") == sorted(mariadb.SAKILA_BASE_TABLES)
    assert kinds["actor_info"] == "VIEW"
    assert triggers >= 3
    assert film_list_rows > 0
    # a private copy: writing to it is allowed
    with mariadb.connect(mysql_server, sakila_db) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM payment WHERE payment_id <= 10")
        assert cur.rowcount == 10


def test_sakila_shared_is_loaded(mysql_server, sakila_shared):
    assert _scalar(mysql_server, sakila_shared, "SELECT COUNT(*) FROM payment") == 16049
    assert _scalar(mysql_server, sakila_shared, "SELECT COUNT(DISTINCT last_update) FROM rental") <= 2


def test_mysql_db_is_empty_and_unique(mysql_server, mysql_db, sakila_shared):
    assert mysql_db != sakila_shared
    assert _scalar(mysql_server, mysql_db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 0
    assert _scalar(mysql_server, mysql_db, "SELECT @@character_set_database") == "utf8mb4"


def test_pg_db_answers(pg_db):
    conn = psycopg2.connect(host=pg_db["host"], port=pg_db["port"], user=pg_db["user"],
                            password=pg_db["password"], dbname=pg_db["dbname"], connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1, current_database()")
            assert cur.fetchone() == (1, pg_db["dbname"])
    finally:
        conn.close()


def test_s3_bucket_put_get_over_http(s3_endpoint, s3_bucket):
    assert s3_endpoint.startswith("http://127.0.0.1:")
    client = s3.client(s3_endpoint)
    client.put_object(Bucket=s3_bucket, Key="incremental/x/a.parquet", Body=b"\x00PAR1")
    assert client.get_object(Bucket=s3_bucket, Key="incremental/x/a.parquet")["Body"].read() == b"\x00PAR1"
    listed = client.list_objects_v2(Bucket=s3_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["incremental/x/a.parquet"]


def _ssh_client(sshd, known_hosts_path: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts_path)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(sshd.host, port=sshd.port, username=sshd.user, key_filename=sshd.key_path,
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10)
    return client


def test_sshd_accepts_the_generated_key_with_host_key_verification(sshd):
    client = _ssh_client(sshd, sshd.known_hosts_path)
    try:
        key = client.get_transport().get_remote_server_key()
        assert f"SHA256:{key.fingerprint.split(':', 1)[1]}" == sshd.host_key_fingerprint
        _, stdout, _ = client.exec_command("echo tunnel-ok", timeout=10)
        assert stdout.read().decode().strip() == "tunnel-ok"
        # TCP forwarding is allowed (the bastion's job): open a direct-tcpip channel to the sshd itself
        channel = client.get_transport().open_channel("direct-tcpip", (sshd.host, sshd.port), ("127.0.0.1", 0), timeout=10)
        assert channel.recv(4).startswith(b"SSH-")
        channel.close()
    finally:
        client.close()


def test_sshd_is_refused_with_an_unknown_host_key(sshd, tmp_path):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        _ssh_client(sshd, str(empty_known_hosts))


def test_sshd_is_refused_with_a_changed_host_key(sshd, tmp_path):
    sshd_support.keygen(tmp_path / "other_host_key", "another host")
    changed = tmp_path / "known_hosts"
    changed.write_text(sshd_support.known_hosts_line(sshd.host, sshd.port, tmp_path / "other_host_key.pub"))
    with pytest.raises(paramiko.BadHostKeyException):
        _ssh_client(sshd, str(changed))


def test_killing_the_session_child_drops_the_connection(sshd):
    before = set(sshd.session_pids())
    client = _ssh_client(sshd, sshd.known_hosts_path)
    try:
        transport = client.get_transport()
        new = wait_until(lambda: set(sshd.session_pids()) - before, timeout=10, what="an sshd child for the session")
        for pid in new:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not transport.is_active(), timeout=10, what="the client noticing the dropped session")
    finally:
        client.close()


def test_make_env_points_at_the_test_services(make_env, mysql_db, pg_db, s3_bucket, s3_endpoint):
    env = make_env(BACKUP_BATCH_SIZE=500, S3_REGION=None)
    assert env["DB_DATABASE"] == mysql_db
    assert env["S3_BUCKET_NAME"] == s3_bucket and env["S3_ENDPOINT_URL"] == s3_endpoint
    assert env["REDSHIFT_DATABASE"] == pg_db["dbname"] and env["REDSHIFT_PORT"] == str(pg_db["port"])
    assert env["BACKUP_BATCH_SIZE"] == "500" and "S3_REGION" not in env
    assert all(isinstance(v, str) for v in env.values())


def test_run_cli_runs_the_package_in_a_clean_environment(run_cli):
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    assert "s3rb-tui" in done.stdout
