"""The PostgreSQL test server (our stand-in warehouse): reach it, starting it if needed; make and drop databases."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg2

from .availability import is_root, try_start
from .waiting import port_open, wait_for_port

START_TIMEOUT = 60.0


def server_from_env() -> dict:
    """host, port, user, password of the test server (defaults: postgres on 127.0.0.1:5432, trust auth)."""
    return {
        "host": os.environ.get("S3RB_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("S3RB_TEST_PG_PORT", "5432")),
        "user": os.environ.get("S3RB_TEST_PG_USER", "postgres"),
        "password": os.environ.get("S3RB_TEST_PG_PASSWORD", ""),
    }


def _local_clusters() -> list[str]:
    root = Path("/etc/postgresql")
    return sorted(p.name for p in root.iterdir() if (p / "main").is_dir()) if root.is_dir() else []


def ensure_running(server: dict) -> str:
    """'' when the server answers (after starting the local cluster if it was down), else why not."""
    if port_open(server["host"], server["port"]):
        return ""
    versions = _local_clusters()
    if server["host"] not in ("127.0.0.1", "localhost") or not is_root() or not versions:
        return f"PostgreSQL not answering on {server['host']}:{server['port']} (and cannot start it from here)"
    problem = try_start(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"])
    if problem:
        return f"PostgreSQL down and could not be started: {problem}"
    if not wait_for_port(server["host"], server["port"], START_TIMEOUT):
        return f"PostgreSQL started but not answering on {server['host']}:{server['port']} after {START_TIMEOUT:g}s"
    return ""


def connect(server: dict, dbname: str = "postgres"):
    conn = psycopg2.connect(
        host=server["host"], port=server["port"], user=server["user"], password=server["password"],
        dbname=dbname, connect_timeout=10,
    )
    conn.autocommit = True
    return conn


def create_database(server: dict, name: str) -> None:
    conn = connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def drop_database(server: dict, name: str) -> None:
    """Drop ``name`` even if a test left connections open (WITH (FORCE), PostgreSQL 13+)."""
    conn = connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()
