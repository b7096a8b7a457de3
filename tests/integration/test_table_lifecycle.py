"""Tables that change shape or identity (issue 18): an emptied snapshot, two sources mapped to one
target, the product's own names, names the warehouse cannot hold, a warehouse table dropped while
its ledger remains. Real MariaDB, PostgreSQL (and DuckDB where it differs), both extraction paths
where extraction is involved."""

from __future__ import annotations

import json

import pytest

from tests.support.warehouse import Warehouse, mysql
from tests.support import mariadb, postgres

PATHS = ["pymysql", "fast"]


def execute(wh, sql):
    """A statement on the test's warehouse, outside the product (an operator's hand)."""
    if wh.dialect == "duckdb":
        import duckdb

        con = duckdb.connect(str(wh.path))
        try:
            con.execute(sql)
        finally:
            con.close()
        return
    conn = postgres.connect(wh.pg, wh.pg["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


def sync(run_cli, env, *tables, extra=()):
    args = ["--run", "sync"]
    for t in tables:
        args += ["-t", t]
    return run_cli(*args, *extra, env=env)


@pytest.mark.parametrize("path", PATHS)
def test_an_emptied_snapshot_table_empties_the_warehouse_copy(path, mysql_db, mysql_server, pg_db, make_env, run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, "CREATE TABLE snap (code VARCHAR(10), qty INT)",
          "INSERT INTO snap VALUES ('a', 1), ('b', 2), ('c', 3)")
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path)
    wh = Warehouse("postgres", tmp_path, request)
    first = sync(run_cli, env, "snap")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert wh.q("SELECT COUNT(*) FROM public.snap") == [(3,)]

    mysql(mysql_server, mysql_db, "DELETE FROM snap")
    emptied = sync(run_cli, env, "snap", extra=("--json",))
    assert emptied.returncode == 0, emptied.stdout[-2000:] + emptied.stderr[-2000:]
    assert wh.q("SELECT COUNT(*) FROM public.snap") == [(0,)]
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "snap", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr[-2000:]

    mysql(mysql_server, mysql_db, "INSERT INTO snap VALUES ('d', 4)")
    refilled = sync(run_cli, env, "snap")
    assert refilled.returncode == 0, refilled.stdout[-2000:] + refilled.stderr[-2000:]
    assert wh.q("SELECT code, qty FROM public.snap") == [("d", 4)]



@pytest.fixture
def second_db(mysql_server, mysql_db):
    name = (mysql_db[:60] + "_two")
    mariadb.create_database(mysql_server, name)
    yield name
    mariadb.drop_database(mysql_server, name)


ORDERS = "CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20), updated_at DATETIME(6) NOT NULL)"


@pytest.mark.parametrize("strategy", ["sequential", "inter-table"])
def test_two_sources_mapped_to_one_target_are_refused_before_anything(strategy, mysql_db, second_db, mysql_server, pg_db,
                                                                       make_env, run_cli, tmp_path, request):
    for db, note in ((mysql_db, "a"), (second_db, "b")):
        mysql(mysql_server, db, ORDERS, f"INSERT INTO orders VALUES (1, '{note}', NOW(6)), (2, '{note}', NOW(6))")
    store = tmp_path / "store"
    store.mkdir()
    env = make_env(STORE_URL=f"file://{store}")
    wh = Warehouse("postgres", tmp_path, request)
    refused = sync(run_cli, env, f"{mysql_db}.orders", f"{second_db}.orders", extra=("-s", strategy))
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert f"{mysql_db}.orders and {second_db}.orders would both load into public.orders" in refused.stderr
    assert "target_table" in refused.stderr and "Traceback" not in refused.stderr
    assert list(store.rglob("*.parquet")) == [] and list(store.rglob("*.json")) == []  # nothing backed up, no watermark
    assert wh.q("SELECT to_regclass('public.orders')") == [(None,)]

    # a target_table that points a second table at the first one's target: refused the same way
    config = tmp_path / "s3rb.toml"
    mysql(mysql_server, mysql_db, "CREATE TABLE orders_eu LIKE orders")
    config.write_text(f'[tables."{mysql_db}.orders_eu"]\ntarget_table = "orders"\n')
    also = sync(run_cli, dict(env, S3RB_CONFIG=str(config)), "orders", "orders_eu", extra=("--redshift-only",))
    assert also.returncode == 2 and "would both load into public.orders" in also.stderr

    # each one alone, with its own target, loads
    config.write_text(f'[tables."{second_db}.orders"]\ntarget_table = "orders_b"\n')
    ok = sync(run_cli, dict(env, S3RB_CONFIG=str(config)), f"{mysql_db}.orders", f"{second_db}.orders", extra=("-s", strategy))
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert wh.q("SELECT note, COUNT(*) FROM public.orders GROUP BY note") == [("a", 2)]
    assert wh.q("SELECT note, COUNT(*) FROM public.orders_b GROUP BY note") == [("b", 2)]


def test_a_source_table_named_like_the_ledger_is_refused(mysql_db, mysql_server, pg_db, make_env, run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, ORDERS, "INSERT INTO orders VALUES (1, 'a', NOW(6))",
          "CREATE TABLE s3rb_load_ledger (id INT PRIMARY KEY, extra VARCHAR(10), updated_at DATETIME(6) NOT NULL)",
          "INSERT INTO s3rb_load_ledger VALUES (1, 'x', NOW(6))")
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    wh = Warehouse("postgres", tmp_path, request)
    assert sync(run_cli, env, "orders").returncode == 0
    ledger = wh.q("SELECT column_name FROM information_schema.columns WHERE table_name = 's3rb_load_ledger' ORDER BY ordinal_position")
    refused = sync(run_cli, env, "s3rb_load_ledger")
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert "would load into public.s3rb_load_ledger, a name the product keeps for itself" in refused.stderr
    assert wh.q("SELECT column_name FROM information_schema.columns WHERE table_name = 's3rb_load_ledger' ORDER BY ordinal_position") == ledger
    assert wh.q("SELECT COUNT(*) FROM public.s3rb_load_ledger") == [(1,)]


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
def test_a_source_column_named_like_a_helper_column_is_refused_by_name(dialect, mysql_db, mysql_server, make_env, run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, "CREATE TABLE orders (id INT PRIMARY KEY, _s3rb_seq INT, updated_at DATETIME(6) NOT NULL)",
          "INSERT INTO orders VALUES (1, 7, NOW(6))")
    (tmp_path / "store").mkdir()
    wh = Warehouse(dialect, tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", **wh.env)
    done = sync(run_cli, env, "orders")
    assert done.returncode == 1
    assert "column(s) _s3rb_seq are named like the loader's helper columns" in done.stdout
    assert wh.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'orders'") == [(0,)]


def test_names_longer_than_the_warehouse_holds_are_refused_before_loading(mysql_db, mysql_server, pg_db, make_env, run_cli, tmp_path, request):
    long = "c" * 64
    mysql(mysql_server, mysql_db, f"CREATE TABLE wide (id INT PRIMARY KEY, `{long}` INT, updated_at DATETIME(6) NOT NULL)",
          "INSERT INTO wide VALUES (1, 5, NOW(6))")
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    wh = Warehouse("postgres", tmp_path, request)
    for _ in range(2):  # refused the same way every run; never created cut
        done = sync(run_cli, env, "wide")
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
        assert f"column name(s) '{long}' are longer than the 63 bytes postgres keeps" in done.stdout
        assert wh.q("SELECT to_regclass('public.wide')") == [(None,)]
    # DuckDB holds the name whole
    duck = Warehouse("duckdb", tmp_path, request)
    loaded = sync(run_cli, dict(env, **duck.env), "wide", extra=("--redshift-only",))
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]
    assert duck.q(f'SELECT id, "{long}" FROM public.wide') == [(1, 5)]


@pytest.mark.parametrize("dialect,mode", [("postgres", "merge"), ("duckdb", "append"), ("postgres", "append")])
def test_a_dropped_warehouse_table_is_detected_and_rebuilt_from_the_store(dialect, mode, mysql_db, mysql_server, make_env,
                                                                          run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, ORDERS,
          "INSERT INTO orders VALUES " + ", ".join(f"({i}, 'n{i}', '2026-01-01 00:00:00')" for i in range(1, 31)))
    (tmp_path / "store").mkdir()
    config = tmp_path / "s3rb.toml"
    config.write_text(f'[tables."{mysql_db}.orders"]\nload_mode = "{mode}"\n')
    wh = Warehouse(dialect, tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", S3RB_CONFIG=str(config), **wh.env)
    assert sync(run_cli, env, "orders").returncode == 0
    execute(wh, "DROP TABLE public.orders CASCADE" if dialect == "postgres" else "DROP VIEW public.orders_latest; DROP TABLE public.orders")
    mysql(mysql_server, mysql_db, "UPDATE orders SET note = 'changed', updated_at = NOW(6) WHERE id = 7")

    stopped = sync(run_cli, env, "orders")
    assert stopped.returncode == 1, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    assert "public.orders is missing from the warehouse, but its load ledger lists 1 file(s)" in stopped.stdout
    assert f"s3rb-tui --run rebuild -t {mysql_db}.orders" in stopped.stdout
    assert wh.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'orders'") == [(0,)]

    no_tty = run_cli("--run", "rebuild", "-t", "orders", env=env)
    assert no_tty.returncode == 2 and "pass --force" in no_tty.stderr and "Traceback" not in no_tty.stderr
    dry = run_cli("--run", "rebuild", "-t", "orders", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr[-2000:]
    assert "load:  2 committed file(s), 31 rows" in dry.stdout and "missing from the warehouse" in dry.stdout
    assert wh.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'orders'") == [(0,)]

    rebuilt = run_cli("--run", "rebuild", "-t", "orders", "--force", env=env)
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr[-2000:]
    if mode == "merge":
        assert wh.q("SELECT COUNT(*), COUNT(DISTINCT id) FROM public.orders") == [(30, 30)]
    else:
        assert wh.q("SELECT COUNT(*), COUNT(DISTINCT id) FROM public.orders") == [(31, 30)]
        assert wh.q("SELECT note FROM public.orders_latest WHERE id = 7") == [("changed",)]
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "orders", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr[-2000:]
    # rebuilding a table that is there: its rows are replaced, not doubled
    again = run_cli("--run", "rebuild", "-t", "orders", "--force", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["plan"]["warehouse_rows"] == (30 if mode == "merge" else 31)
    assert wh.q("SELECT COUNT(*) FROM public.orders") == [(30 if mode == "merge" else 31,)]
    assert sync(run_cli, env, "orders").returncode == 0


@pytest.mark.parametrize("path,dialect", [("pymysql", "postgres"), ("fast", "duckdb"), ("fast", "postgres")])
def test_added_columns_get_their_default_and_a_renamed_column_stops_the_table(path, dialect, mysql_db, mysql_server, make_env,
                                                                               run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, ORDERS, "INSERT INTO orders VALUES (1, 'a', '2026-01-01'), (2, 'b', '2026-01-01'), (3, 'c', '2026-01-01')")
    (tmp_path / "store").mkdir()
    wh = Warehouse(dialect, tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path, **wh.env)
    assert sync(run_cli, env, "orders").returncode == 0
    mysql(mysql_server, mysql_db,
          "ALTER TABLE orders ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'it''s new', ADD COLUMN qty INT DEFAULT 7, "
          "ADD COLUMN flag INT NOT NULL, ADD COLUMN created DATETIME DEFAULT CURRENT_TIMESTAMP",
          "UPDATE orders SET status = 'sent', qty = 1, updated_at = NOW(6) WHERE id = 2")
    grown = sync(run_cli, env, "orders", extra=("--json",))
    assert grown.returncode == 0, grown.stdout[-3000:] + grown.stderr[-3000:]
    load = json.loads(grown.stdout)["tables"][0]["details"]["load"]
    assert any("added column status" in c and "DEFAULT 'it''s new'" in c for c in load["details"]["schema_changes"]), load
    assert any("column created was added to the source: DEFAULT current_timestamp() is an expression" in w
               and f"watermark reset -t {mysql_db}.orders" in w for w in load["warnings"]), load["warnings"]
    assert wh.q("SELECT id, status, qty, flag, created FROM public.orders ORDER BY id") == [
        (1, "it's new", 7, 0, None), (2, "sent", 1, 0, wh.q("SELECT created FROM public.orders WHERE id = 2")[0][0]), (3, "it's new", 7, 0, None)]
    assert wh.q("SELECT created IS NOT NULL FROM public.orders WHERE id = 2") == [(True,)]

    mysql(mysql_server, mysql_db, "ALTER TABLE orders CHANGE note remark VARCHAR(20)",
          "UPDATE orders SET remark = 'renamed', updated_at = NOW(6) WHERE id = 3")
    stopped = sync(run_cli, env, "orders")
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "column(s) note of public.orders are no longer in" in stopped.stdout and "new column(s) remark" in stopped.stdout
    fix = 'ALTER TABLE "public"."orders" RENAME COLUMN "note" TO "remark"'
    assert fix in stopped.stdout
    assert wh.q("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'remark'") == [(0,)]
    execute(wh, fix)
    fixed = sync(run_cli, env, "orders", extra=("--redshift-only",))
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr[-3000:]
    assert wh.q("SELECT id, remark FROM public.orders ORDER BY id") == [(1, "a"), (2, "b"), (3, "renamed")]


@pytest.mark.parametrize("path,dialect", [("pymysql", "postgres"), ("fast", "postgres"), ("fast", "duckdb"), ("pymysql", "duckdb")])
def test_merge_keys_match_as_the_source_collation_matches_them(path, dialect, mysql_db, mysql_server, make_env, run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db,
          "CREATE TABLE codes (code VARCHAR(10) COLLATE utf8mb4_general_ci PRIMARY KEY, "
          "n INT, updated_at DATETIME(6) NOT NULL)",
          "INSERT INTO codes VALUES ('a', 1, '2026-01-01'), ('x', 2, '2026-01-01'), ('Keep', 3, '2026-01-01')")
    (tmp_path / "store").mkdir()
    wh = Warehouse(dialect, tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path, **wh.env)
    assert sync(run_cli, env, "codes").returncode == 0
    # one row each in MySQL: the key's spelling changes to one the collation calls equal
    mysql(mysql_server, mysql_db, "UPDATE codes SET code = 'A', n = 10, updated_at = NOW(6) WHERE code = 'a'",
          "UPDATE codes SET code = 'x ', n = 20, updated_at = NOW(6) WHERE code = 'x'")
    done = sync(run_cli, env, "codes", extra=("--json",))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert wh.q("SELECT code, n FROM public.codes ORDER BY n") == [("Keep", 3), ("A", 10), ("x ", 20)]
    warnings = json.loads(done.stdout)["tables"][0]["warnings"]
    assert any("code (utf8mb4_general_ci) compare case- and accent-insensitively" in w for w in warnings), warnings
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "codes", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr[-2000:]


SERIAL = "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(20), updated_at DATETIME(6) NOT NULL)"
THIRTY = "INSERT INTO orders (note, updated_at) VALUES " + ", ".join(f"('n{i}', '2026-01-01 00:00:00')" for i in range(1, 31))
TWENTY = "INSERT INTO orders VALUES " + ", ".join(f"({i}, 'reloaded', '2026-01-01 00:00:00')" for i in range(1, 21))


def _resync_and_check(run_cli, env, wh, mysql_db):
    stopped = sync(run_cli, env, "orders")
    assert stopped.returncode == 1, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "was truncated or dropped and created again in MySQL" in stopped.stdout
    assert "it holds 20 rows and the warehouse copy public.orders 30" in stopped.stdout
    assert f"s3rb-tui --run rebuild -t {mysql_db}.orders --resync" in stopped.stdout
    assert wh.q("SELECT COUNT(*), MIN(note) FROM public.orders") == [(30, "n1")]  # nothing was loaded

    dry = run_cli("--run", "rebuild", "-t", "orders", "--resync", "--dry-run", env=env)
    assert dry.returncode == 0 and "from a new full read of the source" in dry.stdout, dry.stdout + dry.stderr[-2000:]
    done = run_cli("--run", "rebuild", "-t", "orders", "--resync", "--force", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert wh.q("SELECT COUNT(*), MIN(note), MAX(note) FROM public.orders") == [(20, "reloaded", "reloaded")]
    counts = run_cli("--run", "watermark-count", "validate-counts", "-t", "orders", env=env)
    assert counts.returncode == 0, counts.stdout + counts.stderr[-2000:]
    again = sync(run_cli, env, "orders", extra=("--redshift-only",))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert wh.q("SELECT COUNT(*) FROM public.orders") == [(20,)]  # the superseded files never come back


@pytest.mark.parametrize("path", PATHS)
def test_truncate_and_reload_with_the_original_cursors_stops_the_table_until_a_resync(path, mysql_db, mysql_server, pg_db, make_env,
                                                                                         run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, SERIAL, THIRTY)
    (tmp_path / "store").mkdir()
    wh = Warehouse("postgres", tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE=path)
    assert sync(run_cli, env, "orders").returncode == 0
    mysql(mysql_server, mysql_db, "TRUNCATE TABLE orders", TWENTY)
    _resync_and_check(run_cli, env, wh, mysql_db)
    # a rebuild that keeps every row (ALTER TABLE … FORCE changes CREATE_TIME) is not a stop
    _next_second(mysql_server, mysql_db)
    mysql(mysql_server, mysql_db, "ALTER TABLE orders FORCE")
    assert sync(run_cli, env, "orders").returncode == 0


def _next_second(server, db):
    """Wait until the server's clock has left the table's CREATE_TIME second (a new one must differ)."""
    from tests.support.waiting import wait_until

    def passed():
        conn = mariadb.connect(server, db)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT NOW() > CREATE_TIME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'orders'", (db,))
                return bool(cur.fetchone()[0])
        finally:
            conn.close()

    wait_until(passed, 5.0, "the server clock to pass the table's CREATE_TIME")


def test_drop_and_create_again_stops_the_table_until_a_resync(mysql_db, mysql_server, make_env, run_cli, tmp_path, request):
    mysql(mysql_server, mysql_db, ORDERS,
          "INSERT INTO orders VALUES " + ", ".join(f"({i}, 'n{i}', '2026-01-01 00:00:00')" for i in range(1, 31)))
    (tmp_path / "store").mkdir()
    wh = Warehouse("duckdb", tmp_path, request)
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", EXTRACT_ENGINE="fast", **wh.env)
    assert sync(run_cli, env, "orders").returncode == 0
    _next_second(mysql_server, mysql_db)
    mysql(mysql_server, mysql_db, "DROP TABLE orders", ORDERS, TWENTY)
    _resync_and_check(run_cli, env, wh, mysql_db)
