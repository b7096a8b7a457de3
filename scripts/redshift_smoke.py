"""Smoke test for a real Redshift cluster (provisioned or Serverless): one line per rule, pass/fail.

    python scripts/redshift_smoke.py [--env-file .env] [--sakila-dir DIR] [--keep]

With the usual ``.env`` (MySQL, S3 bucket, Redshift), for each load method (Parquet, then the CSV
method) it creates a scratch MySQL database and a scratch Redshift schema (``s3rb_smoke_<id>_<method>``),
fills the database with a table of type edges, Sakila's ``rental`` (from ``--sakila-dir``, else
generated rows of its shape) and a mixed-case table, syncs them, merges updates, adds a source
column in the middle of ``rental`` and syncs again, and compares every value in Redshift with
MySQL; then ``verify`` runs Redshift's checksum SQL (warehouses/checksum_redshift.py) on the three
tables, which must be equal, and must name exactly the one key changed in Redshift behind its back. Then it drops both scratch databases and deletes what it wrote to the bucket (files,
watermarks, manifests, CSV) unless ``--keep``. The MySQL user needs CREATE and DROP; the
Redshift user CREATE on the database. Exit 0 when every rule passes, 1 otherwise, 2 when the
configuration cannot work.

``--postgres-stand-in`` (the test suite's mode, tests/integration/test_redshift_smoke.py) runs the
same against PostgreSQL through tests/support/redshift_standin.py; the rules only a cluster can
answer say SKIP there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pymysql
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from s3rb_tui.engine.core.errors import S3rbError  # noqa: E402
from s3rb_tui.engine.core.events import JobStarted  # noqa: E402
from s3rb_tui.engine.core.jobs import JobContext  # noqa: E402
from s3rb_tui.engine.stores.layout import lock_key, watermark_key  # noqa: E402
from s3rb_tui.engine.ops.sync import run_sync  # noqa: E402
from s3rb_tui.engine.core.table_names import TableRef  # noqa: E402
from s3rb_tui.engine.ops.verify_table import verify_table  # noqa: E402
from s3rb_tui.engine.warehouses.base import Target  # noqa: E402
from s3rb_tui.engine.warehouses.redshift_sql import CSV_PREFIX, MANIFEST_PREFIX, fold  # noqa: E402
from s3rb_tui.engine.wiring.workspace import Workspace  # noqa: E402
from s3rb_tui.settings import load_settings  # noqa: E402

SAKILA_DIRS = (REPO / "sakila", REPO.parent / "shared" / "datasets" / "sakila")
T0 = dt.datetime(2026, 1, 1, 0, 0, 0)

EDGE = """CREATE TABLE edge (
  id INT NOT NULL PRIMARY KEY,
  big_u BIGINT UNSIGNED, bit64 BIT(64), big_s BIGINT, int_u INT UNSIGNED, small_u SMALLINT UNSIGNED, tiny TINYINT, tiny1 TINYINT(1),
  yr YEAR, dec38 DECIMAL(38,10), dec_small DECIMAL(10,4), dbl DOUBLE,
  vc VARCHAR(20), tx TEXT, en ENUM('x','y'), js JSON,
  d DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, bl BLOB,
  updated_at DATETIME(6) NOT NULL
) DEFAULT CHARSET=utf8mb4"""
EDGE_ROWS = [
    "(1, 18446744073709551615, b'1111111111111111111111111111111111111111111111111111111111111111', -9223372036854775808, 4294967295, 65535,"
    " -128, 1, 2155, 9999999999999999999999999999.9999999999, -999999.9999, 1.7976931348623157e308, 'emoji 😀 ok', '', 'y',"
    " '{\"k\": [1, 2.5, \"😀\"]}', '1000-01-01', '2026-01-02 03:04:05.123456', '2026-06-01 12:00:00.654321', '-838:59:59',"
    " x'00ff8081', '2026-01-01 00:00:00')",
    "(2, 0, b'0', 0, 0, 0, 127, 0, 1901, 0.0000000001, 0.0001, -0.5, '', NULL, 'x', '[]', '2026-12-31', '2026-12-31 23:59:59.999999',"
    " NULL, '838:59:59', x'', '2026-01-01 00:00:00')",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'text', NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " '2026-01-01 00:00:00')",
]
MIXED = "CREATE TABLE `MixedCase` (`OrderID` INT NOT NULL PRIMARY KEY, `StatusText` VARCHAR(20), `Updated_At` DATETIME NOT NULL)"


def rental_sql(sakila_dir: Path | None) -> tuple[str, list[str], str]:
    """(CREATE TABLE rental without foreign keys, INSERT statements, where the rows came from)."""
    schema = data = None
    for d in ([sakila_dir] if sakila_dir else []) + list(SAKILA_DIRS):
        if (d / "sakila-schema.sql").is_file() and (d / "sakila-data.sql").is_file():
            schema, data = (d / "sakila-schema.sql").read_text(), (d / "sakila-data.sql").read_text(encoding="utf-8", errors="replace")
            break
    if schema is None:
        ddl = ("CREATE TABLE rental (rental_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, rental_date DATETIME NOT NULL, "
               "inventory_id MEDIUMINT UNSIGNED NOT NULL, customer_id SMALLINT UNSIGNED NOT NULL, return_date DATETIME DEFAULT NULL, "
               "staff_id TINYINT UNSIGNED NOT NULL, last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)")
        rows = ", ".join(f"({i}, '2005-05-24 22:53:30' + INTERVAL {i} MINUTE, {1 + i % 4581}, {1 + i % 599}, "
                         f"{'NULL' if i % 97 == 0 else chr(39) + '2005-05-26 22:04:30' + chr(39)}, {1 + i % 2}, '2006-02-15 21:30:53')"
                         for i in range(1, 16045))
        return ddl, [f"INSERT INTO rental VALUES {rows}"], "generated: 16,044 rows of its shape (Sakila not found: --sakila-dir)"
    ddl = re.search(r"CREATE TABLE rental \(.*?\)ENGINE=InnoDB[^;]*;", schema, re.S).group(0).rstrip(";")
    ddl = "\n".join(line for line in ddl.splitlines() if not line.strip().startswith("CONSTRAINT"))  # no foreign keys
    ddl = re.sub(r",(\s*)\)ENGINE", r"\1)ENGINE", ddl)
    inserts = re.findall(r"INSERT INTO rental VALUES .*?\);\n", data, re.S)
    return ddl, [s.rstrip().rstrip(";") for s in inserts], "Sakila's rental"


class Smoke:
    def __init__(self, args):
        self.args = args
        self.results: list[tuple[str, str, str]] = []  # (PASS|FAIL|SKIP, rule, detail)
        self.id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S") + "_" + uuid.uuid4().hex[:4]
        self.base = load_settings(args.env_file)
        self.standin = args.postgres_stand_in
        self.cleanups: list[tuple[Workspace, str]] = []
        self.run_ids: list[str] = []  # loads' manifests live under redshift/manifests/<run id>/

    def note_run(self, event) -> None:
        if isinstance(event, JobStarted) and event.options.get("run_id"):
            self.run_ids.append(event.options["run_id"])

    def rule(self, name: str, ok: bool | None, detail: str = "") -> None:
        mark = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        self.results.append((mark, name, detail))
        print(f"{mark}  {name}" + (f": {detail}" if detail else ""), flush=True)

    def workspace(self, settings) -> Workspace:
        if self.standin:
            from tests.support.redshift_standin import standin_workspace

            return standin_workspace(settings)
        return Workspace(settings)

    # --- MySQL ------------------------------------------------------------------------------
    def mysql(self, ws: Workspace, database: str | None = None):
        host, port = ws.mysql_address()
        s = ws.settings
        return pymysql.connect(host=host, port=port, user=s.str("DB_USER"), password=s.str("DB_PASSWORD"), database=database,
                               charset="utf8mb4", autocommit=True, init_command="SET time_zone = '+00:00'")

    def source_rows(self, ws: Workspace, database: str, table: str) -> tuple[list[str], dict]:
        with ws.open_source() as source:
            schema = source.discover(TableRef(database, table))
        exprs = [c.rule.select_expr(c) for c in schema.columns]
        conn = self.mysql(ws, database)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT {', '.join(exprs)} FROM `{table}`")
                rows = cur.fetchall()
        finally:
            conn.close()
        names = schema.column_names
        key = [names.index(k) for k in schema.primary_key]
        return names, {tuple(r[i] for i in key): tuple(_norm(v) for v in r) for r in rows}

    def warehouse_rows(self, ws: Workspace, schema_name: str, table: str, names: list[str], key_names: list[str]) -> dict:
        wh = ws.open_warehouse()
        try:
            with wh.conn.cursor() as cur:
                cols = ", ".join(f'"{fold(n)}"' for n in names)
                cur.execute(f'SELECT {cols} FROM "{fold(schema_name)}"."{fold(table)}"')
                rows = cur.fetchall()
            wh.conn.commit()
        finally:
            wh.close()
        key = [names.index(k) for k in key_names]
        return {tuple(_norm(r[i]) for i in key): tuple(_norm(v) for v in r) for r in rows}

    def compare(self, ws, database, schema_name, table, key_names) -> str:
        names, expected = self.source_rows(ws, database, table)
        expected = {tuple(_norm(k) for k in key): row for key, row in expected.items()}
        actual = self.warehouse_rows(ws, schema_name, table, names, key_names)
        if actual.keys() != expected.keys():
            return f"{len(actual)} rows in Redshift, {len(expected)} in MySQL"
        for key, row in expected.items():
            # Redshift hands VARBYTE to clients as hex text
            actual[key] = tuple(bytes.fromhex(a) if isinstance(e, bytes) and isinstance(a, str) else a for a, e in zip(actual[key], row))
            if actual[key] != row:
                bad = [n for n, a, e in zip(names, actual[key], row) if a != e]
                return f"key {key}: {', '.join(f'{n} Redshift {actual[key][names.index(n)]!r} != MySQL {row[names.index(n)]!r}' for n in bad[:3])}"
        return ""

    # --- one load method ----------------------------------------------------------------------
    def method(self, fmt: str) -> None:
        name = f"s3rb_smoke_{self.id}_{fmt}"
        settings = self.base.with_overrides(DB_DATABASE=name, REDSHIFT_SCHEMA=name, REDSHIFT_LOAD_FORMAT=fmt,
                                            S3_INCREMENTAL_PATH=f"s3rb-smoke/{self.id}/{fmt}/", BACKUP_BATCH_SIZE=self.args.batch_size)
        ws = self.workspace(settings)
        self.cleanups.append((ws, name))
        ddl, inserts, origin = rental_sql(self.args.sakila_dir)
        conn = self.mysql(ws)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                cur.execute(f"USE `{name}`")
                cur.execute("SET SESSION sql_mode = ''")
                for s in [EDGE, f"INSERT INTO edge VALUES {', '.join(EDGE_ROWS)}", MIXED,
                          "INSERT INTO `MixedCase` VALUES (1, 'a', '2026-01-01 00:00:00'), (2, NULL, '2026-01-01 00:00:00')", ddl, *inserts]:
                    cur.execute(s)
        finally:
            conn.close()
        tables = [TableRef(name, t) for t in ("edge", "rental", "MixedCase")]
        print(f"-- {fmt}: MySQL {name} (rental: {origin}) -> Redshift schema {name}", flush=True)

        def sync(step: str) -> bool:
            results = run_sync(ws, tables, JobContext("smoke", sink=self.note_run))
            bad = [f"{r.table}: {r.error}" for r in results if r.status not in ("success", "no new data")]
            self.rule(f"[{fmt}] sync ({step}) succeeds for every table", not bad, "; ".join(bad))
            return not bad

        if not sync("first backup"):
            return
        files = [i.key for i in ws.store.list(f"s3rb-smoke/{self.id}/{fmt}/{name}.edge/") if i.key.endswith(".parquet")]
        with ws.store.open_input(files[0]) as f:
            physical = {c.name: str(c.logical_type) for c in pq.ParquetFile(f).schema}
        self.rule(f"[{fmt}] BIGINT UNSIGNED and BIT(64) are decimal(20,0) in the files",
                  all("Decimal(precision=20, scale=0)" in physical[c] for c in ("big_u", "bit64")), str({c: physical[c] for c in ("big_u", "bit64")}))
        for table, keys in (("edge", ["id"]), ("rental", ["rental_id"]), ("MixedCase", ["OrderID"])):
            diff = self.compare(ws, name, name, table, keys)
            self.rule(f"[{fmt}] every value of {table} equals MySQL" + (" (NULL and '' apart, 2^64-1, microseconds)" if table == "edge" else ""),
                      not diff, diff)
        wh = ws.open_warehouse()
        try:
            ledger = {k for k, _, _ in wh.ledger_entries(Target(name, "rental"))}
        finally:
            wh.close()
        rental_files = [i.key for i in ws.store.list(f"s3rb-smoke/{self.id}/{fmt}/{name}.rental/") if i.key.endswith(".parquet")]
        self.rule(f"[{fmt}] the ledger lists every rental file once", ledger == set(rental_files), f"{len(ledger)} of {len(rental_files)}")

        moment = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=1)
        conn = self.mysql(ws, name)
        try:
            with conn.cursor() as cur:
                cur.execute(f"UPDATE rental SET staff_id = 3 - staff_id, return_date = NULL, last_update = '{moment}' WHERE rental_id % 50 = 0")
                cur.execute(f"UPDATE `MixedCase` SET `StatusText` = 'b', `Updated_At` = '{moment}' WHERE `OrderID` = 1")
                cur.execute(f"UPDATE edge SET vc = 'updated', updated_at = '{moment}' WHERE id = 2")
        finally:
            conn.close()
        if sync("merged updates"):
            for table, keys in (("rental", ["rental_id"]), ("edge", ["id"]), ("MixedCase", ["OrderID"])):
                diff = self.compare(ws, name, name, table, keys)
                self.rule(f"[{fmt}] merge: {table} holds the updated rows, once each", not diff, diff)
            self.verify(ws, name, fmt)

        conn = self.mysql(ws, name)
        try:
            with conn.cursor() as cur:
                cur.execute("ALTER TABLE rental ADD COLUMN note VARCHAR(20) NULL AFTER rental_date")
                cur.execute(f"UPDATE rental SET note = CONCAT('n', rental_id), last_update = '{moment + dt.timedelta(minutes=1)}' WHERE rental_id % 70 = 0")
        finally:
            conn.close()
        if sync("column added in the middle"):
            diff = self.compare(ws, name, name, "rental", ["rental_id"])
            self.rule(f"[{fmt}] a column added at the source loads (files in another column order go through a stage)", not diff, diff)

    def verify(self, ws: Workspace, name: str, fmt: str) -> None:
        """Redshift's checksum SQL on a cluster: equal tables verify equal, one changed value is found."""
        if self.standin:
            self.rule(f"[{fmt}] verify on Redshift's checksum SQL (STRTOL, FROM_VARBYTE, CONVERT_TIMEZONE)", None, "needs a Redshift cluster")
            return
        for table in ("edge", "rental", "MixedCase"):
            v = verify_table(ws, TableRef(name, table))
            self.rule(f"[{fmt}] verify: {table} is equal on Redshift's checksum SQL", v.equal, str(v.counts))
        wh = ws.open_warehouse()
        try:
            wh.execute_ddl([f'UPDATE "{fold(name)}"."edge" SET "vc" = "vc" || \'x\' WHERE "id" = 2'])
        finally:
            wh.close()
        v = verify_table(ws, TableRef(name, "edge"))
        self.rule(f"[{fmt}] verify names exactly the key changed in Redshift", v.different == [[2]] and v.counts["different"] == 1,
                  f"different {v.different}, columns {dict(v.different_columns)}")

    def cluster_rules(self) -> None:
        if self.standin:
            for r in ("the session runs with enable_case_sensitive_identifier off", "SYS_LOAD_ERROR_DETAIL is readable"):
                self.rule(r, None, "needs a Redshift cluster")
            return
        ws = Workspace(self.base)
        wh = ws.open_warehouse()
        try:
            with wh.conn.cursor() as cur:
                cur.execute("SHOW enable_case_sensitive_identifier")
                setting = str(cur.fetchone()[0])
                cur.execute("SELECT COUNT(*) FROM sys_load_error_detail WHERE session_id = pg_backend_pid()")
                cur.fetchone()
            wh.conn.commit()
            self.rule("the session runs with enable_case_sensitive_identifier off", setting in ("off", "false"), setting)
            self.rule("SYS_LOAD_ERROR_DETAIL is readable", True, f"{wh.describe()}")
        finally:
            wh.close()

    def cleanup(self) -> None:
        for ws, name in self.cleanups:
            try:
                conn = self.mysql(ws)
                with conn.cursor() as cur:
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                conn.close()
                wh = ws.open_warehouse()
                try:
                    wh.execute_ddl([f'DROP SCHEMA IF EXISTS "{fold(name)}" CASCADE'])
                finally:
                    wh.close()
                prefix = ws.settings.str("S3_INCREMENTAL_PATH")
                keys = [i.key for p in (prefix, CSV_PREFIX + prefix) for i in ws.store.list(p)]
                keys += [i.key for run in self.run_ids for i in ws.store.list(f"{MANIFEST_PREFIX}{run}/")]
                keys += [k for t in ("edge", "rental", "MixedCase") for k in (watermark_key(TableRef(name, t)), lock_key(TableRef(name, t)))
                         if ws.store.head(k) is not None]
                ws.store.delete_many(keys)
                ws.close()
            except Exception as e:  # cleanup goes on with the next one; say what is left
                print(f"cleanup of {name} incomplete: {e}", file=sys.stderr)

    def run(self) -> int:
        if self.base.problems:
            print("configuration problems: " + "; ".join(self.base.problems), file=sys.stderr)
            return 2
        if self.base.store_is_local:
            print("the smoke test loads from S3: unset STORE_URL and set S3_BUCKET_NAME", file=sys.stderr)
            return 2
        try:
            self.cluster_rules()
            for fmt in ("parquet", "csv"):
                self.method(fmt)
        except S3rbError as e:
            self.rule("the smoke test ran to the end", False, str(e))
        finally:
            if not self.args.keep:
                self.cleanup()
        failed = [r for r in self.results if r[0] == "FAIL"]
        print(f"{len(self.results) - len(failed)} of {len(self.results)} rules passed or skipped; {len(failed)} failed")
        return 1 if failed else 0


def _norm(v):
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-file", default=None, help="settings file (default: .env in the working directory)")
    p.add_argument("--sakila-dir", type=Path, default=None, help="directory with sakila-schema.sql and sakila-data.sql")
    p.add_argument("--batch-size", type=int, default=5000, help="rows per file (several files per table)")
    p.add_argument("--keep", action="store_true", help="keep the scratch databases, schema and files")
    p.add_argument("--postgres-stand-in", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        return Smoke(args).run()
    except S3rbError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
