"""Every type rule through the whole path into the warehouse: the edge-case table of
test_type_fidelity (one column per rule, extreme values, zero dates, NULL vs empty) is synced
into PostgreSQL and DuckDB, then compared value by value with a plain pymysql read."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from tests.support.warehouse import Warehouse
from tests.support.mysql_tables import COLUMNS, INSERT_1, INSERT_2, INSERT_3, JSON_DOC, LONG_TEXT
from tests.support import mariadb

EXPRESSIONS = {"geo": "ST_AsBinary(geo)", "pt": "ST_AsBinary(pt)", "uu": "CAST(uu AS CHAR)", "ip4": "CAST(ip4 AS CHAR)",
               "ip6": "CAST(ip6 AS CHAR)", "bit1": "CAST(bit1 AS UNSIGNED)", "bit64": "CAST(bit64 AS UNSIGNED)"}


def source_rows(server, db):
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'edge' ORDER BY ORDINAL_POSITION", (db,))
            cols = cur.fetchall()
            cur.execute("SELECT " + ", ".join(EXPRESSIONS.get(c, f"`{c}`") for c, _ in cols) + " FROM edge ORDER BY id")
            types = dict(cols)
            types["js"] = "json"  # MariaDB reports JSON columns as longtext (with a JSON_VALID check)
            return [c for c, _ in cols], types, cur.fetchall()
    finally:
        conn.close()


def expected(value, data_type):
    if data_type in ("date", "datetime", "timestamp") and isinstance(value, str):
        return None  # a zero date: NULL in the warehouse (counted by the backup)
    if data_type == "json" and value is not None:
        return json.loads(value)
    if data_type == "double" or data_type == "float":
        return float(value) if value is not None else None
    return value


def actual(value, data_type):
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, uuid.UUID):
        return str(value)
    if data_type == "json" and isinstance(value, str):
        return json.loads(value)
    if data_type == "decimal" and isinstance(value, str):
        return Decimal(value)  # DuckDB keeps DECIMAL(65,30) as exact text
    return value


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_every_type_rule_lands_exactly(dialect, mysql_db, mysql_server, make_env, run_cli, tmp_path, request):
    wh = Warehouse(dialect, tmp_path, request)
    conn = mariadb.connect(mysql_server, mysql_db)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE edge ({COLUMNS})")
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("SET SESSION time_zone = '+05:30'")
        cur.execute(INSERT_1, (LONG_TEXT, JSON_DOC))
        cur.execute(INSERT_2)
        cur.execute(INSERT_3)
    conn.close()
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", **wh.env)
    done = run_cli("--run", "sync", "-t", "edge", "--json", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(done.stdout)["tables"][0]["rows"] == 4

    names, types, rows = source_rows(mysql_server, mysql_db)
    got = wh.q("SELECT " + ", ".join(f'"{n}"' for n in names) + " FROM public.edge ORDER BY id")
    assert len(got) == len(rows) == 4
    for src, dst in zip(rows, got):
        for name, s, d in zip(names, src, dst):
            assert actual(d, types[name]) == expected(s, types[name]), f"row {src[0]} column {name} ({types[name]})"
    # NULL and empty stay apart; TIME beyond a day is an interval
    assert wh.q("SELECT st FROM public.edge WHERE id = 2") == [("",)]
    assert wh.q("SELECT st FROM public.edge WHERE id = 3") == [(None,)]
    assert wh.q("SELECT tm FROM public.edge WHERE id = 1") == [(-dt.timedelta(hours=838, minutes=59, seconds=59),)]
