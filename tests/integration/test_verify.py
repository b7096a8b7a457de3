"""``verify`` on real MariaDB against real PostgreSQL and DuckDB warehouses, synced by the CLI.

Every type rule's values go through a sync and must verify equal; then the warehouse is changed
behind the pipeline's back — one unit, one microsecond, NULL vs '', 'NULL' vs NULL, a trailing
space, a byte, a float's last bit, a JSON value — rows deleted and added, and rows changed at the
source past the watermark: verify must name exactly those keys and columns, and the rows past the
watermark only as not yet synced. Small segments force the bisection down to row fetches.
"""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.ops.verify import VerifyOptions
from s3rb_tui.engine.ops.verify_table import verify_table
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb, postgres

ROWS = 3000
EDGE_DDL = """
CREATE TABLE edge (
  id INT NOT NULL PRIMARY KEY,
  d DECIMAL(10,2), big BIGINT UNSIGNED, f FLOAT, dbl DOUBLE, t VARCHAR(20), txt TEXT, b VARBINARY(8),
  dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL, dd DATE, tm TIME(3), j JSON, e ENUM('zulu','alpha'),
  bits BIT(8), y YEAR, update_at DATETIME(6) NOT NULL
)"""
EDGE_FILL = f"""
INSERT INTO edge SELECT seq, seq / 100, 18446744073709551615 - seq, seq / 3, seq / 7,
  CASE seq MOD 4 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'NULL' ELSE CONCAT('v', seq) END,
  IF(seq MOD 5 = 0, NULL, REPEAT('x', seq MOD 50)), UNHEX(LPAD(HEX(seq), 8, '0')),
  TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq * 1001 MICROSECOND, TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq SECOND,
  TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq * 7 MICROSECOND, DATE'2025-01-01' + INTERVAL seq DAY,
  SEC_TO_TIME(seq * 61.5 - 5000), IF(seq MOD 3 = 0, NULL, CONCAT('{{"k": ', seq, ', "s": "a b"}}')),
  ELT(1 + seq MOD 2, 'zulu', 'alpha'), seq MOD 256, 1901 + seq MOD 200, TIMESTAMP'2025-06-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_{ROWS}"""

SMALL = VerifyOptions(segments=6, bisect_factor=4, fetch_rows=40, workers=3)


def mysql(server, db, *statements):
    conn = mariadb.connect(server, db)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            for s in statements:
                cur.execute(s)
    finally:
        conn.close()


class Warehouse:
    def __init__(self, dialect, tmp_path, request):
        self.dialect = dialect
        if dialect == "duckdb":
            self.path = tmp_path / "wh.duckdb"
            self.env = {"WAREHOUSE_DIALECT": "duckdb", "DUCKDB_PATH": str(self.path)}
        else:
            self.pg = request.getfixturevalue("pg_db")
            self.env = {"WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": self.pg["host"], "REDSHIFT_PORT": str(self.pg["port"]),
                        "REDSHIFT_USER": self.pg["user"], "REDSHIFT_PASSWORD": self.pg["password"], "REDSHIFT_DATABASE": self.pg["dbname"]}

    def run(self, *statements):
        if self.dialect == "duckdb":
            import duckdb

            con = duckdb.connect(str(self.path))
            try:
                for s in statements:
                    con.execute(s)
            finally:
                con.close()
            return
        conn = postgres.connect(self.pg, self.pg["dbname"])
        try:
            with conn.cursor() as cur:
                for s in statements:
                    cur.execute(s)
            conn.commit()
        finally:
            conn.close()

    def hex(self, h):
        return f"'\\x{h}'::bytea" if self.dialect == "postgres" else "from_hex('" + h + "')"


def _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, ddl, fill, table, toml=""):
    wh = Warehouse(dialect, tmp_path, request)
    (tmp_path / "store").mkdir(exist_ok=True)
    config = tmp_path / "s3rb.toml"
    config.write_text(toml)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", S3RB_CONFIG=str(config), BACKUP_BATCH_SIZE="1000", **wh.env)
    mysql(mysql_server, mysql_db, ddl, fill)
    synced = run_cli("--run", "sync", "-t", table, env=env)
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-2000:]
    return wh, env


def _verify(env, table, options=SMALL):
    ws = Workspace(build_settings(env))
    try:
        return verify_table(ws, ws.table_ref(table), options)
    finally:
        ws.close()


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_every_type_equal_then_each_change_found(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, EDGE_DDL, EDGE_FILL, "edge")

    equal = run_cli("--run", "verify", "-t", "edge", "--json", env=env)
    assert equal.returncode == 0, equal.stdout[-3000:] + equal.stderr[-2000:]
    [doc] = json.loads(equal.stdout)["tables"]
    assert (doc["source_rows"], doc["warehouse_rows"], doc["missing_in_warehouse"], doc["extra_in_warehouse"], doc["different"],
            doc["not_yet_synced"]) == (ROWS, ROWS, [], [], [], 0)
    assert doc["segments"] > 1 and set(doc["compared_columns"]) >= {"d", "f", "j", "tm", "ts", "b", "bits", "y"}
    assert _verify(env, "edge").equal  # small segments, the same answer

    changes = {  # id -> (column, warehouse change)
        10: ("d", "d = d + 0.01"),
        11: ("big", "big = big - 1"),
        12: ("f", "f = f + 0.5"),
        13: ("dbl", "dbl = dbl * (1 + 1e-15)"),
        16: ("t", "t = ''"),  # NULL at the source (16 mod 4 = 0)
        18: ("t", "t = NULL"),  # 'NULL' at the source
        19: ("t", "t = t || ' '"),  # a trailing space
        21: ("txt", "txt = 'X' || substr(txt, 2)"),
        22: ("b", f"b = {wh.hex('00000017')}"),
        23: ("dt", "dt = dt + INTERVAL '1 microsecond'"),
        24: ("dt0", "dt0 = dt0 + INTERVAL '1 microsecond'"),
        25: ("ts", "ts = ts + INTERVAL '1 microsecond'"),
        26: ("dd", "dd = dd + INTERVAL '1 day'"),
        27: ("tm", "tm = tm + INTERVAL '1 millisecond'"),
        28: ("j", """j = '{"k": 29, "s": "a b"}'"""),
        29: ("e", "e = 'zulu'"),
        30: ("bits", "bits = bits + 1"),
        31: ("y", "y = y + 1"),
    }
    wh.run(*[f"UPDATE public.edge SET {change} WHERE id = {i}" for i, (_, change) in changes.items()],
           "DELETE FROM public.edge WHERE id IN (50, 2999)",
           "INSERT INTO public.edge (id, update_at) VALUES (5000, TIMESTAMP '2025-06-01 00:00:00')")
    # at the source, after the sync: a new row and a changed row, both past the watermark
    mysql(mysql_server, mysql_db, "INSERT INTO edge (id, update_at) VALUES (4000, NOW(6))",
          "UPDATE edge SET d = 0, update_at = NOW(6) WHERE id = 60")

    v = _verify(env, "edge")
    assert v.missing_in_warehouse == [[50], [2999]]
    assert v.extra_in_warehouse == [[5000]]
    assert v.different == [[i] for i in sorted(changes)]
    assert dict(v.different_columns) == {c: sum(1 for col, _ in changes.values() if col == c) for c, _ in changes.values()}
    assert v.not_yet_synced == 2 and v.source_rows == ROWS + 1 and v.warehouse_rows == ROWS - 1
    assert v.counts == {"missing_in_warehouse": 2, "extra_in_warehouse": 1, "different": len(changes)}

    cli = run_cli("--run", "verify", "-t", "edge", "--json", "--limit", "3", env=env)
    assert cli.returncode == 1, cli.stderr[-2000:]
    [doc] = json.loads(cli.stdout)["tables"]
    assert len(doc["different"]) == 3 and doc["counts"]["different"] == len(changes)  # listed up to --limit, counted exactly
    keys = run_cli("--run", "verify", "-t", "edge", "--keys-only", "--json", env=env)
    [doc] = json.loads(keys.stdout)["tables"]
    assert keys.returncode == 1 and doc["different"] == [] and doc["missing_in_warehouse"] == [[50], [2999]]
    text = run_cli("--run", "verify", "-t", "edge", "--columns", "t", env=env)
    assert text.returncode == 1 and "t (3)" in text.stdout and "DIFFERENT" in text.stdout


COMPOSITE_DDL = """
CREATE TABLE pairs (
  region VARCHAR(8) NOT NULL, n INT NOT NULL, amount DECIMAL(12,4), note VARCHAR(30), updated_at DATETIME NOT NULL,
  PRIMARY KEY (region, n)
)"""
COMPOSITE_FILL = """
INSERT INTO pairs SELECT ELT(1 + seq MOD 3, 'north', 'South', 'east'), seq, seq * 1.0001, IF(seq MOD 2, NULL, 'x'),
  TIMESTAMP'2025-03-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_900"""


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_composite_key(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, COMPOSITE_DDL, COMPOSITE_FILL, "pairs")
    assert _verify(env, "pairs").equal
    wh.run("UPDATE public.pairs SET amount = amount + 0.0001 WHERE region = 'South' AND n = 4",
           "DELETE FROM public.pairs WHERE region = 'east' AND n = 8")
    v = _verify(env, "pairs")
    assert (v.different, v.missing_in_warehouse, v.extra_in_warehouse) == ([["South", 4]], [["east", 8]], [])
    assert dict(v.different_columns) == {"amount": 1}


APPEND_DDL = """
CREATE TABLE events (id BIGINT NOT NULL PRIMARY KEY, status VARCHAR(20), update_at DATETIME(6) NOT NULL)"""
APPEND_FILL = """
INSERT INTO events SELECT seq, 'NEW', TIMESTAMP'2025-04-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_500"""


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_append_table_compares_its_latest_view(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    table = f"{mysql_db}.events"
    wh, env = _setup(dialect, mysql_server, mysql_db, make_env, run_cli, tmp_path, request, APPEND_DDL, APPEND_FILL, "events",
                     toml=f'[tables."{table}"]\nload_mode = "append"\n')
    mysql(mysql_server, mysql_db, "UPDATE events SET status = 'DONE', update_at = '2025-05-01 00:00:00' WHERE id <= 10")
    again = run_cli("--run", "sync", "-t", "events", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    v = _verify(env, "events")
    assert v.relation == "public.events_latest" and v.equal and v.warehouse_rows == 500
    wh.run("DELETE FROM public.events WHERE id = 3 AND status = 'DONE'")  # the newest version gone: the view shows the old one
    v = _verify(env, "events")
    assert v.different == [[3]] and dict(v.different_columns) == {"status": 1, "update_at": 1}


def test_table_without_primary_key_is_refused(mysql_server, mysql_db, make_env, run_cli, tmp_path, request):
    _, env = _setup("duckdb", mysql_server, mysql_db, make_env, run_cli, tmp_path, request,
                    "CREATE TABLE loose (a INT, b VARCHAR(5))", "INSERT INTO loose VALUES (1, 'x')", "loose")
    out = run_cli("--run", "verify", "-t", "loose", env=env)
    assert out.returncode == 2 and "has no primary key" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    unknown = run_cli("--run", "verify", "-t", "loose", "--columns", "nope", env=env)
    assert unknown.returncode == 2
