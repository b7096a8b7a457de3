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

from tests.support.verify_stand import EDGE_DDL, EDGE_FILL, ROWS, _setup, _verify, mysql


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
