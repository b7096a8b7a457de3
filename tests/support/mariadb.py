"""The MariaDB test server: reach it (starting it if needed), make and drop databases, load Sakila."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pymysql

from .availability import is_root, try_start
from .waiting import port_open, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SAKILA_CANDIDATES = (REPO_ROOT.parent / "shared" / "datasets" / "sakila", Path("/work/shared/datasets/sakila"))
SAKILA_BASE_TABLES = (
    "actor", "address", "category", "city", "country", "customer", "film", "film_actor",
    "film_category", "film_text", "inventory", "language", "payment", "rental", "staff", "store",
)
START_TIMEOUT = 60.0


def server_from_env() -> dict:
    """host, port, user, password of the test server (defaults: root on 127.0.0.1:3306, no password)."""
    return {
        "host": os.environ.get("S3RB_TEST_MYSQL_HOST", "127.0.0.1"),
        "port": int(os.environ.get("S3RB_TEST_MYSQL_PORT", "3306")),
        "user": os.environ.get("S3RB_TEST_MYSQL_USER", "root"),
        "password": os.environ.get("S3RB_TEST_MYSQL_PASSWORD", ""),
    }


def ensure_running(server: dict) -> str:
    """'' when the server answers (after starting the local one if it was down), else why not."""
    if port_open(server["host"], server["port"]):
        return ""
    if server["host"] not in ("127.0.0.1", "localhost") or not is_root() or not Path("/usr/sbin/mariadbd").exists():
        return f"MariaDB not answering on {server['host']}:{server['port']} (and cannot start it from here)"
    Path("/run/mysqld").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/mysqld", "mysql", "mysql")
    problem = try_start(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
    if problem:
        return f"MariaDB down and could not be started: {problem}"
    if not wait_for_port(server["host"], server["port"], START_TIMEOUT):
        return f"MariaDB started but not answering on {server['host']}:{server['port']} after {START_TIMEOUT:g}s"
    return ""


def connect(server: dict, database: str | None = None, **kwargs) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=server["host"], port=server["port"], user=server["user"], password=server["password"],
        database=database, charset="utf8mb4", autocommit=True, connect_timeout=10, **kwargs,
    )


def create_database(server: dict, name: str) -> None:
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")


def drop_database(server: dict, name: str) -> None:
    """Drop ``name``; connections still using it (a killed subprocess, a leaked test connection) are killed first."""
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()", (name,))
        for (thread_id,) in cur.fetchall():
            try:
                cur.execute(f"KILL {int(thread_id)}")
            except pymysql.err.OperationalError:
                pass  # it ended on its own meanwhile
        cur.execute("SET SESSION lock_wait_timeout = 60")
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def sakila_dir() -> Path:
    """Where sakila-schema.sql and sakila-data.sql live: $S3RB_TEST_SAKILA_DIR, else ../shared/datasets/sakila."""
    override = os.environ.get("S3RB_TEST_SAKILA_DIR")
    candidates = (Path(override),) if override else SAKILA_CANDIDATES
    for candidate in candidates:
        if (candidate / "sakila-schema.sql").is_file() and (candidate / "sakila-data.sql").is_file():
            return candidate
    raise FileNotFoundError(
        f"Sakila dataset not found in {', '.join(map(str, candidates))}; set S3RB_TEST_SAKILA_DIR to the directory "
        "holding sakila-schema.sql and sakila-data.sql"
    )


@functools.lru_cache(maxsize=1)
def _sakila_sources() -> tuple[str, str]:
    directory = sakila_dir()
    schema = (directory / "sakila-schema.sql").read_text(encoding="utf-8")
    data = (directory / "sakila-data.sql").read_text(encoding="utf-8")
    return schema, data


def retarget_sakila(schema: str, data: str, name: str) -> str:
    """Sakila's schema and data as one script that builds database ``name`` instead of ``sakila``."""
    schema = re.sub(r"^DROP SCHEMA IF EXISTS sakila;$", f"DROP SCHEMA IF EXISTS `{name}`;", schema, flags=re.M)
    schema = re.sub(r"^CREATE SCHEMA sakila;$", f"CREATE SCHEMA `{name}` CHARACTER SET utf8mb4;", schema, flags=re.M)
    schema = re.sub(r"^USE sakila;$", f"USE `{name}`;", schema, flags=re.M)
    schema = re.sub(r"\bsakila\.", f"`{name}`.", schema)
    data = re.sub(r"^USE sakila;$", f"USE `{name}`;", data, flags=re.M)
    return schema + "\n" + data


def load_sakila(server: dict, name: str) -> float:
    """Create database ``name`` loaded with Sakila through the ``mariadb`` client; return seconds taken.

    The schema uses DELIMITER blocks (triggers, procedures), which the client handles natively.
    """
    script = retarget_sakila(*_sakila_sources(), name)
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise FileNotFoundError("the mariadb client binary is not installed (apt-get install mariadb-client)")
    started = time.monotonic()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": server["password"], "HOME": os.environ.get("HOME", "/")}
    done = subprocess.run(
        [client, "--no-defaults", "--protocol=TCP", f"--host={server['host']}", f"--port={server['port']}",
         f"--user={server['user']}", "--default-character-set=utf8mb4", "--batch"],
        input=script, capture_output=True, text=True, env=env, timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loading Sakila into {name} failed: {done.stderr.strip()[-500:]}")
    return time.monotonic() - started
