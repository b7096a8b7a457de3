"""What the verify and repair tests share: the edge table (one column per kind of value the
checksums must agree on, ROWS rows), MariaDB statements in UTC, the test's warehouse (DuckDB or
PostgreSQL) for changing rows behind the engine's back, ``_setup`` (table made and synced through
the CLI) and ``_verify`` (verify_table in this process with small segments)."""

from __future__ import annotations

from s3rb_tui.engine.ops.verify import VerifyOptions
from s3rb_tui.engine.ops.verify_table import verify_table
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb
from tests.support.warehouse import Warehouse

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
