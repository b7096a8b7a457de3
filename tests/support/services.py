"""Fixtures for real-service tests: MariaDB (with Sakila), PostgreSQL, an S3 endpoint (moto server
mode over HTTP), an OpenSSH server, and ``make_env`` (the settings for them); ``run_cli`` comes from tests/support/cli.py.

Only tests/integration/conftest.py makes them visible (``from tests.support.services import *``): the
unit tier never imports this module, so it runs without psutil, moto or any service
(tests/unit/test_tiers.py proves it).

A service that is not there skips the test locally and fails it under ``CI=true``.
Every per-test database and bucket gets a unique name: teammates run tests at the same time.
"""

from __future__ import annotations

import subprocess
from typing import Callable

import pytest

from tests.support import mariadb, postgres, s3, sshd as sshd_support
from tests.support.availability import unavailable
from tests.support.cli import run_cli  # noqa: F401  (a fixture: re-exported for tests/integration)
from tests.support.naming import unique_name

__all__ = [
    "mysql_server", "mysql_db", "sakila_db", "sakila_shared", "pg_server", "pg_db",
    "s3_endpoint", "s3_client", "s3_bucket", "sshd", "make_env", "run_cli",
]


# --- MariaDB -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_server() -> dict:
    """dict(host, port, user, password) of the running MariaDB (started if it was down)."""
    server = mariadb.server_from_env()
    problem = mariadb.ensure_running(server)
    if problem:
        unavailable(problem)
    try:
        mariadb.connect(server).close()
    except Exception as exc:  # any failure to log in means no usable server
        unavailable(f"MariaDB on {server['host']}:{server['port']} refused user {server['user']}: {exc}")
    return server


@pytest.fixture
def mysql_db(mysql_server: dict, request: pytest.FixtureRequest):
    """A fresh empty database (utf8mb4); yields its name; dropped afterwards."""
    name = unique_name("s3rbt", request.node.name, max_len=64)
    mariadb.create_database(mysql_server, name)
    yield name
    mariadb.drop_database(mysql_server, name)


def _load_sakila(server: dict, name: str) -> None:
    try:
        mariadb.load_sakila(server, name)
    except FileNotFoundError as exc:
        mariadb.drop_database(server, name)
        unavailable(str(exc))
    except BaseException:
        mariadb.drop_database(server, name)
        raise


@pytest.fixture
def sakila_db(mysql_server: dict, request: pytest.FixtureRequest):
    """A private copy of Sakila (tables, views, triggers, routines, data); yields its name; dropped afterwards."""
    name = unique_name("s3rbt_sakila", request.node.name, max_len=64)
    _load_sakila(mysql_server, name)
    yield name
    mariadb.drop_database(mysql_server, name)


@pytest.fixture(scope="session")
def sakila_shared(mysql_server: dict):
    """Sakila loaded once per session and shared by many tests: READ ONLY, never write to it."""
    name = unique_name("s3rbt_sakila", "shared", max_len=64)
    _load_sakila(mysql_server, name)
    yield name
    mariadb.drop_database(mysql_server, name)


# --- PostgreSQL (stand-in warehouse) -------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> dict:
    """dict(host, port, user, password) of the running PostgreSQL (started if it was down)."""
    server = postgres.server_from_env()
    problem = postgres.ensure_running(server)
    if problem:
        unavailable(problem)
    try:
        postgres.connect(server).close()
    except Exception as exc:
        unavailable(f"PostgreSQL on {server['host']}:{server['port']} refused user {server['user']}: {exc}")
    return server


@pytest.fixture
def pg_db(pg_server: dict, request: pytest.FixtureRequest):
    """A fresh database; yields dict(host, port, user, password, dbname); dropped afterwards."""
    name = unique_name("s3rbt", request.node.name, max_len=63)
    postgres.create_database(pg_server, name)
    yield {**pg_server, "dbname": name}
    postgres.drop_database(pg_server, name)


# --- S3 (moto server mode over HTTP) -------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint():
    """URL (http://127.0.0.1:PORT) of an S3 endpoint served by moto in a thread of this process."""
    try:
        server = s3.MotoS3()
    except ImportError as exc:
        unavailable(f"moto server mode not installed (pip install 'moto[server]'): {exc}")
    try:
        url = server.start()
    except Exception as exc:
        unavailable(f"moto S3 server did not start: {exc}")
    yield url
    server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str):
    """A boto3 S3 client for the test endpoint (fake keys, explicit endpoint_url; nothing patched)."""
    return s3.client(s3_endpoint)


@pytest.fixture
def s3_bucket(s3_client, request: pytest.FixtureRequest):
    """A fresh empty bucket; yields its name; emptied and deleted afterwards."""
    name = unique_name("s3rbt", request.node.name, max_len=63, sep="-")
    s3_client.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(s3_client, name)


# --- OpenSSH server (bastion) --------------------------------------------------------------------


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A real sshd on 127.0.0.1 with keys generated now: .host .port .user .key_path .known_hosts_path
    .host_key_fingerprint (plus .pid of the listener, .log_text())."""
    try:
        server = sshd_support.start(tmp_path_factory.mktemp("sshd"))
    except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as exc:
        unavailable(f"OpenSSH server: {exc}")
    yield server
    sshd_support.stop(server)


# --- CLI helpers ---------------------------------------------------------------------------------


@pytest.fixture
def make_env(request: pytest.FixtureRequest, mysql_server: dict, s3_endpoint: str, s3_bucket: str) -> Callable[..., dict]:
    """``make_env(**overrides) -> dict[str, str]`` of settings variables for this test's services.

    DB_* point at mysql_server, with DB_DATABASE = the test's sakila_db, mysql_db or sakila_shared
    (in that order, whichever the test uses); S3_* at the test endpoint and this test's bucket with
    fake keys; REDSHIFT_* at PostgreSQL when the test uses pg_db. An override of None removes a variable.
    """
    database = ""
    for fixture_name in ("sakila_db", "mysql_db", "sakila_shared"):
        if fixture_name in request.fixturenames:
            database = request.getfixturevalue(fixture_name)
            break
    base = {
        "DB_HOST": mysql_server["host"],
        "DB_PORT": str(mysql_server["port"]),
        "DB_USER": mysql_server["user"],
        "DB_PASSWORD": mysql_server["password"],
        "DB_DATABASE": database,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_BUCKET_NAME": s3_bucket,
        "S3_ACCESS_KEY": s3.FAKE_ACCESS_KEY,
        "S3_SECRET_KEY": s3.FAKE_SECRET_KEY,
        "S3_REGION": s3.REGION,
    }
    if "pg_db" in request.fixturenames:
        pg = request.getfixturevalue("pg_db")
        base.update({
            "REDSHIFT_HOST": pg["host"],
            "REDSHIFT_PORT": str(pg["port"]),
            "REDSHIFT_USER": pg["user"],
            "REDSHIFT_PASSWORD": pg["password"],
            "REDSHIFT_DATABASE": pg["dbname"],
        })

    def build(**overrides) -> dict:
        env = dict(base)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    return build
