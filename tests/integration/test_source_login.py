"""Logging in to MySQL with the password as the operator typed it, on both extraction paths.

The server checks a password by its bytes; the mariadb client sends what was typed (UTF-8).
A non-ASCII ``DB_PASSWORD`` must log in the same way through the CLI, whichever path extracts.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support import mariadb

pytestmark = pytest.mark.integration

PASSWORDS = {"latin-1": "pässwörd-Ö", "beyond-latin-1": "пароль€😀-z"}


@pytest.fixture(params=list(PASSWORDS))
def non_ascii_user(request, mysql_server, mysql_db):
    """A real MariaDB user whose password is not ASCII, allowed on the test database; dropped afterwards."""
    name, password = f"s3rbpw{uuid.uuid4().hex[:8]}", PASSWORDS[request.param]
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, host, password))
            cur.execute(f"GRANT ALL ON `{mysql_db}`.* TO %s@%s", (name, host))
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        cur.execute("INSERT INTO t VALUES (1, '2024-01-01'), (2, '2024-01-02'), (3, '2024-01-03')")
    yield name, password
    with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
        for host in ("%", "localhost"):
            cur.execute("DROP USER IF EXISTS %s@%s", (name, host))


@pytest.mark.parametrize("engine", ["pymysql", "fast"])
def test_a_non_ascii_password_logs_in_as_the_mariadb_client_does(engine, non_ascii_user, run_cli, mysql_server, mysql_db,
                                                                 tmp_path):
    user, password = non_ascii_user
    client = subprocess.run(["mariadb", "-h", mysql_server["host"], "-P", str(mysql_server["port"]), "-u", user,
                             f"-p{password}", "-N", "-e", f"SELECT COUNT(*) FROM `{mysql_db}`.t"],
                            capture_output=True, text=True, timeout=30)
    assert client.stdout.strip() == "3", client.stderr  # the password is right: the client logs in
    store = tmp_path / "store"
    store.mkdir()
    env = {"DB_HOST": mysql_server["host"], "DB_PORT": str(mysql_server["port"]), "DB_USER": user, "DB_PASSWORD": password,
           "DB_DATABASE": mysql_db, "STORE_URL": f"file://{store}"}
    done = run_cli("--run", "backup", "-t", "t", "--extract-engine", engine, "--json", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [table] = json.loads(done.stdout)["tables"]
    assert table["rows"] == 3 and table["details"]["extract_path"] == ("connectorx" if engine == "fast" else "pymysql")
    assert sorted(i for p in Path(store).rglob("*.parquet") for i in pq.read_table(p).column("id").to_pylist()) == [1, 2, 3]
    assert password not in done.stdout + done.stderr
