"""Every MySQL type usable as a primary key, held to "every row exactly once" in the store.

A key type whose ORDER BY and keyset comparison disagree loses or repeats rows with exit 0:
ENUM and SET (ordered by their number, compared with a string as strings), keys the fast path
selects as text (TIME, INET6, wide DECIMAL: ``ORDER BY k`` once sorted by the text alias), FLOAT
(read with 6 digits, compared with a literal that is not the stored value). Each type here is a
key alone and the first column of a composite key, with every row tied on the cursor, through
real backups (``run_backup`` into a local-directory store) on both extraction paths, with batch
sizes down to 1 and one or several chunks: a first backup stopped by ``--limit`` (an initial scan
resumed from its watermark) and finished, then every row updated to one new cursor value and
backed up the same way (keyset pages, resumed from the watermark). The store must then hold each
row once per version: no row lost, none twice. The rows are read back with pyarrow, not the engine.
The types that disagreed, and a few that travel specially, are also synced into PostgreSQL (the
warehouse merges on the key): each row once there, at its new version.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.ops.backup import run_backup
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.ops.sync import run_sync
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.wiring.workspace import Workspace
from s3rb_tui.settings import build_settings
from tests.support import mariadb, postgres

pytestmark = pytest.mark.integration

FIRST, SECOND = "2024-01-01 00:00:00", "2024-06-01 00:00:00"  # the cursor every row shares, before and after the update

# type -> its values as SQL literals: distinct as stored, in an order that differs from their text
# (or Python) order wherever the type allows it, with each type's extremes.
KEY_TYPES: dict[str, tuple[str, list[str]]] = {
    "tinyint": ("TINYINT", ["-128", "-1", "0", "7", "127"]),
    "tinyint_unsigned": ("TINYINT UNSIGNED", ["0", "1", "128", "255"]),
    "smallint": ("SMALLINT", ["-32768", "-2", "10", "32767"]),
    "mediumint_unsigned": ("MEDIUMINT UNSIGNED", ["0", "9", "10", "16777215"]),
    "int": ("INT", ["-2147483648", "-10", "-9", "2147483647"]),
    "int_unsigned": ("INT UNSIGNED", ["0", "2147483648", "4294967295"]),
    "bigint": ("BIGINT", ["-9223372036854775808", "-1", "9007199254740993", "9223372036854775807"]),
    "bigint_unsigned": ("BIGINT UNSIGNED", ["0", "9007199254740993", "9223372036854775808", "18446744073709551614",
                                            "18446744073709551615"]),
    "decimal_10_2": ("DECIMAL(10,2)", ["-99999999.99", "-2.00", "-1.00", "0.01", "12345678.90"]),
    "decimal_18_6": ("DECIMAL(18,6)", ["-999999999999.999999", "-2", "-1", "0.000001", "999999999999.999999"]),
    "decimal_25_5": ("DECIMAL(25,5)", ["-12345678901234567890.12345", "-2", "-10", "0.00001", "99999999999999999999.99999"]),
    "decimal_30_12": ("DECIMAL(30,12)", ["-2", "-10", "-1.5", "9.5", "10", "999999999999999999.999999999999"]),
    "decimal_65_30": ("DECIMAL(65,30)", ["-2", "-10", "0.000000000000000000000000000001", "9", "10",
                                         "12345678901234567890123456789012345.123456789012345678901234567890"]),
    "float": ("FLOAT", ["-2.5", "0.1", "1", "1.0000001192092896", "16777216", "3.4028234663852886e38"]),
    "double": ("DOUBLE", ["-1.7976931348623157e308", "1e-300", "0.1", "0.30000000000000004", "1.0000000000000002", "2"]),
    "bit_8": ("BIT(8)", ["b'0'", "b'1'", "b'1111111'", "b'11111111'"]),
    "bit_64": ("BIT(64)", ["b'0'", "b'1'", "b'" + "1" * 63 + "'", "b'" + "1" * 64 + "'"]),
    "year": ("YEAR", ["1901", "1999", "2000", "2155"]),
    "char_ci": ("CHAR(8)", ["'a'", "'B'", "'c'", "'é'", "'z😀'", "''"]),
    "varchar_bin": ("VARCHAR(20) COLLATE utf8mb4_bin", ["'B'", "'a'", "'é'", "'a b'", "'a\\\\b'", "'a''b'"]),
    "varchar_latin1": ("VARCHAR(20) CHARACTER SET latin1", ["'Z'", "'a'", "'ä'", "'b'"]),
    "binary_4": ("BINARY(4)", ["x'00000000'", "x'00000001'", "x'7f000000'", "x'ff000000'", "x'ffffffff'"]),
    "varbinary": ("VARBINARY(16)", ["''", "x'00'", "x'0000'", "x'41'", "x'ff'", "x'ff00'"]),
    "enum": ("ENUM('Zulu','alpha','Mike','it''s','')", ["'Zulu'", "'alpha'", "'Mike'", "'it''s'", "''"]),
    "set": ("SET('b','a','c')", ["''", "'b'", "'a'", "'b,a'", "'c'", "'a,c'"]),
    "date": ("DATE", ["'1000-01-01'", "'1999-12-31'", "'2024-02-29'", "'9999-12-31'"]),
    "datetime": ("DATETIME", ["'1000-01-01 00:00:00'", "'2024-01-01 09:00:00'", "'2024-01-01 10:00:00'", "'9999-12-31 23:59:59'"]),
    "datetime_6": ("DATETIME(6)", ["'1000-01-01 00:00:00'", "'2024-01-01 00:00:00.000001'", "'2024-01-01 00:00:00.1'",
                                   "'9999-12-31 23:59:59.999999'"]),
    "timestamp_3": ("TIMESTAMP(3)", ["'1970-01-01 00:00:01'", "'2001-09-09 01:46:40.001'", "'2038-01-19 03:14:07.999'"]),
    "time": ("TIME", ["'-838:59:59'", "'-10:00:00'", "'-9:00:00'", "'-00:00:01'", "'09:00:00'", "'100:00:00'"]),
    "time_6": ("TIME(6)", ["'-00:00:00.000002'", "'-00:00:00.000001'", "'00:00:00'", "'00:00:00.5'", "'00:00:01'"]),
    "uuid": ("UUID", ["'00000000-0000-0000-0000-000000000000'", "'ffffffff-0000-1000-8000-000000000001'",
                      "'00000001-ffff-1fff-8000-000000000002'", "'7f000000-0000-4000-8000-000000000003'",
                      "'ffffffff-ffff-ffff-ffff-ffffffffffff'"]),
    "inet4": ("INET4", ["'0.0.0.0'", "'9.255.255.255'", "'10.0.0.1'", "'100.0.0.0'", "'255.255.255.255'"]),
    "inet6": ("INET6", ["'::'", "'::1'", "'::ffff:10.0.0.1'", "'2001:db8::1'", "'fe80::1'", "'ffff::'"]),
}

# (extraction engine, BACKUP_BATCH_SIZE, BACKUP_NUM_CHUNKS): every row a page edge on both paths,
# and keyset stripes read in parallel (bounds every 2 rows) on the fast path
PATHS = {
    "pymysql-batch1": ("pymysql", 1, 1),
    "fast-batch1": ("fast", 1, 1),
    "fast-batch2-chunks3": ("fast", 2, 3),
}
# the types whose order and comparison disagreed, and a few that travel specially: also through the warehouse
WAREHOUSE_TYPES = ("enum", "set", "float", "time", "inet6", "uuid", "decimal_65_30", "bigint_unsigned", "varbinary")
LIMIT = 3  # the first run of each phase stops after this many rows; the next resumes from the watermark


@pytest.fixture
def store(tmp_path):
    """A local-directory store, in memory where the machine has a tmpfs: these tests commit a
    watermark after every row (batch size 1), and what they check is the keys, not the disk."""
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="s3rb-keys-", dir=shm)) if shm.is_dir() else tmp_path / "store"
    root.mkdir(exist_ok=True)
    yield root
    if root.parent == shm:
        shutil.rmtree(root, ignore_errors=True)


def create_tables(server: dict, db: str, sql_type: str, values: list[str]) -> dict[str, int]:
    """``alone``: the key by itself; ``composite``: (k, n) with two rows per value. Every row
    shares one cursor value. Returns the row count of each table."""
    with mariadb.connect(server, db) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute(f"CREATE TABLE alone (k {sql_type} NOT NULL, v INT, updated_at DATETIME NOT NULL,"
                    " PRIMARY KEY (k), KEY (updated_at, k))")
        cur.execute(f"CREATE TABLE composite (k {sql_type} NOT NULL, n INT NOT NULL, updated_at DATETIME NOT NULL,"
                    " PRIMARY KEY (k, n), KEY (updated_at, k, n))")
        for i, value in enumerate(values):
            cur.execute(f"INSERT INTO alone VALUES ({value}, {i}, '{FIRST}')")
            cur.execute(f"INSERT INTO composite VALUES ({value}, 2, '{FIRST}'), ({value}, 1, '{FIRST}')")
        counts = {}
        for table in ("alone", "composite"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    assert counts == {"alone": len(values), "composite": 2 * len(values)}, "every value is distinct as stored"
    return counts


def stored_versions(store: Path, db: str, table: str) -> Counter:
    """(key columns..., cursor) of every row in the table's Parquet files, counted."""
    seen: Counter = Counter()
    for path in sorted((store / "incremental" / f"{db}.{table}").rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            seen[(row["k"], row.get("n"), str(row["updated_at"]))] += 1
    return seen


def run_twice(job, ws: Workspace, refs: list[TableRef], engine: str, rows: int) -> None:
    """``job`` (run_backup or run_sync) stopped by the limit, then again to the end: the second run
    resumes from the watermark. A run that reads more than twice the table's rows is stopped (a key
    that repeats forever)."""
    for limit in (LIMIT, None):
        ctx = JobContext("backup")

        def stop_runaway(event) -> None:
            if isinstance(event, Progress) and event.rows > 2 * rows:
                ctx.cancel.cancel(f"{event.table}: more than {2 * rows} rows read from a table of {rows}")

        ctx.subscribe(stop_runaway)
        results = job(ws, refs, ctx, limit=limit, extract_engine=engine)
        assert [r.error for r in results if not r.ok] == []


def back_up_both_versions(job, server: dict, db: str, env: dict, engine: str, counts: dict[str, int]) -> None:
    """The first full backup (an initial scan in key order), then every row updated to one new
    cursor value and backed up again (keyset pages over (cursor, key)): each time stopped by the
    limit and resumed."""
    refs = [TableRef(db, t) for t in counts]
    with Workspace(build_settings(env)) as ws:
        run_twice(job, ws, refs, engine, max(counts.values()))
        with mariadb.connect(server, db) as conn, conn.cursor() as cur:
            for table in counts:
                cur.execute(f"UPDATE {table} SET updated_at = '{SECOND}'")
        run_twice(job, ws, refs, engine, max(counts.values()))


def source_env(server: dict, db: str, store: Path, path: str) -> tuple[dict, str]:
    engine, batch_size, chunks = PATHS[path]
    return {
        "DB_HOST": server["host"], "DB_PORT": str(server["port"]), "DB_USER": server["user"],
        "DB_PASSWORD": server["password"], "DB_DATABASE": db, "STORE_URL": f"file://{store}",
        "BACKUP_BATCH_SIZE": str(batch_size), "BACKUP_NUM_CHUNKS": str(chunks),
    }, engine


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_every_row_exactly_once_whatever_the_key_type(key_type, path, mysql_server, mysql_db, store):
    sql_type, values = KEY_TYPES[key_type]
    counts = create_tables(mysql_server, mysql_db, sql_type, values)
    env, engine = source_env(mysql_server, mysql_db, store, path)
    back_up_both_versions(run_backup, mysql_server, mysql_db, env, engine, counts)
    for table, rows in counts.items():
        seen = stored_versions(store, mysql_db, table)
        twice = {k: n for k, n in seen.items() if n > 1}
        per_version = Counter(version for (_, _, version) in seen)
        assert twice == {} and per_version == {FIRST: rows, SECOND: rows}, (
            f"{table} ({sql_type}): {rows} rows per version expected, store has {dict(per_version)}; repeated: {twice}")


@pytest.mark.parametrize("path", ["fast-batch2-chunks3"])  # the files are the same on both paths (the test above)
@pytest.mark.parametrize("key_type", WAREHOUSE_TYPES)
def test_every_row_once_in_the_warehouse(key_type, path, mysql_server, mysql_db, pg_db, store):
    """The same through ``run_sync`` into PostgreSQL (merge on the key): each row once, at its new version."""
    sql_type, values = KEY_TYPES[key_type]
    counts = create_tables(mysql_server, mysql_db, sql_type, values)
    env, engine = source_env(mysql_server, mysql_db, store, path)
    env.update({"WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": pg_db["host"], "REDSHIFT_PORT": str(pg_db["port"]),
                "REDSHIFT_USER": pg_db["user"], "REDSHIFT_PASSWORD": pg_db["password"], "REDSHIFT_DATABASE": pg_db["dbname"]})
    back_up_both_versions(run_sync, mysql_server, mysql_db, env, engine, counts)
    conn = postgres.connect(pg_db, pg_db["dbname"])
    try:
        with conn.cursor() as cur:
            for table, rows in counts.items():
                keys = "k" if table == "alone" else "k, n"
                cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT ({keys})), MIN(updated_at), MAX(updated_at) FROM public.{table}")
                total, distinct, first, last = cur.fetchone()
                assert (total, distinct, str(first), str(last)) == (rows, rows, SECOND, SECOND), f"{table} ({sql_type})"
    finally:
        conn.close()
