"""Load benchmark: our PostgreSQL loader vs ``psql \\copy`` on the same data, in the same run.

Builds N rows of the 51-column settlement table (the demo's column list, types through the one
type table) as a Parquet file (64k-row row groups, snappy) in a local store, and the same rows as
a CSV file. Then, alternating, each path runs in its own subprocess:

* loader: ``PostgresWarehouse.load_batch`` — Parquet row groups -> CSV text -> ``COPY … FROM
  STDIN``, one transaction with its ledger row (exactly what ``sync`` does for one file);
* psql: ``\\copy <table> FROM 'file.csv' WITH (FORMAT csv)``.

Each child's peak RSS comes from ``/usr/bin/time -f %M`` and its wall time from the parent; the
loader child also reports the time of the load itself (without interpreter start-up).

    python bench/load.py --rows 1000000 [--rounds 2] [--host 127.0.0.1 --port 5432 --user postgres]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3rb_tui.demo_data import DELIVERY_COLUMNS  # noqa: E402
from s3rb_tui.engine.core.type_rules import Column, warehouse_type  # noqa: E402

KEY = "incremental/bench.delivery/year=2026/month=01/day=01/hour=00/2026-01-01_00-00-00_batch_0001.parquet"
ROW_GROUP = 65536


def columns() -> list[Column]:
    """The demo's 51 columns as Column objects (types parsed from its DDL text)."""
    out = []
    for name, ddl in DELIVERY_COLUMNS:
        m = re.match(r"(\w+)(?:\((\d+)(?:,(\d+))?\))?", ddl)
        base = m.group(1).lower()
        n, s = (int(m.group(2)) if m.group(2) else None), (int(m.group(3)) if m.group(3) else None)
        if base in ("varchar", "char"):
            out.append(Column(name, base, char_length=n))
        elif base in ("decimal", "numeric"):
            out.append(Column(name, "decimal", precision=n, scale=s))
        else:
            out.append(Column(name, base, precision=n))
    return out


def column_data(c: Column, n: int, i: int) -> pa.Array:
    """Deterministic values of the column's Arrow type; every fourth nullable column is 30% NULL."""
    idx = pa.array(range(n), pa.int64())
    t = c.rule.arrow(c)
    mixed = pc.multiply(pc.add(idx, i * 7919), 2654435761)
    if pa.types.is_integer(t):
        arr = pc.bit_wise_and(mixed, 0x7F if t.bit_width == 8 else 0x7FFF if t.bit_width == 16 else 0x7FFFFFFF).cast(t)
    elif pa.types.is_decimal(t):
        whole = pc.cast(pc.divide(pc.bit_wise_and(mixed, 0xFFFFFFF), 10 ** t.scale), pa.string())
        frac = pc.utf8_lpad(pc.cast(pc.bit_wise_and(mixed, 10 ** t.scale - 1 if t.scale else 0), pa.string()), t.scale, "0")
        text = pc.binary_join_element_wise(pc.utf8_slice_codeunits(whole, 0, t.precision - t.scale), frac, ".") if t.scale else whole
        arr = text.cast(pa.decimal128(t.precision, t.scale))
    elif pa.types.is_timestamp(t):
        secs = pc.add(pc.bit_wise_and(mixed, (1 << 22) - 1), 1_767_225_600)
        arr = pc.multiply(secs, 1_000_000).cast(pa.timestamp("us")).cast(t)
    elif pa.types.is_date(t):
        arr = pc.add(pc.bit_wise_and(mixed, 1023), 20000).cast(pa.int32()).cast(t)
    elif pa.types.is_floating(t):
        arr = pc.divide(pc.bit_wise_and(mixed, 0xFFFFF).cast(pa.float64()), 7.0).cast(t)
    else:  # text
        width = min(c.char_length or 40, 40)
        arr = pc.utf8_slice_codeunits(pc.binary_join_element_wise(f"{c.name[:6]}-", pc.cast(pc.bit_wise_and(mixed, 0xFFFFFF), pa.string()), ""), 0, width)
        arr = arr.cast(t)
    if c.nullable and i % 4 == 3:
        arr = pc.if_else(pc.less(pc.bit_wise_and(mixed, 1023), 307), pa.scalar(None, arr.type), arr)
    return arr


def build(workdir: Path, rows: int) -> tuple[list[Column], Path, Path]:
    cols = columns()
    schema = pa.schema([pa.field(c.name, c.rule.arrow(c)) for c in cols])
    parquet = workdir / "store" / KEY
    parquet.parent.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / "same-rows.csv"
    with pq.ParquetWriter(parquet, schema, compression="snappy") as pw, open(csv_path, "wb") as cf:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            batch = pa.RecordBatch.from_arrays([column_data(c, n, i + start) for i, c in enumerate(cols)], schema=schema)
            pw.write_batch(batch)
            pacsv.write_csv(batch, cf, pacsv.WriteOptions(include_header=False))
    return cols, parquet, csv_path


def child_loader(args) -> int:
    from s3rb_tui.engine.stores.local import LocalStore
    from s3rb_tui.engine.warehouses.base import LoadSpec, Target
    from s3rb_tui.engine.warehouses.files import footer
    from s3rb_tui.engine.warehouses.postgres import PostgresWarehouse, connect
    from s3rb_tui.settings import build_settings

    settings = build_settings({"STORE_URL": f"file://{args.store}", "REDSHIFT_HOST": args.host, "REDSHIFT_PORT": str(args.port),
                               "REDSHIFT_USER": args.user, "REDSHIFT_DATABASE": args.dbname})
    store = LocalStore(args.store)
    started = time.monotonic()
    wh = PostgresWarehouse(connect(settings), settings, store)
    f = footer(store, KEY)
    out = wh.load_batch(Target("public", "bench_loader"), [f], LoadSpec("append"), run_id=f"bench-{os.getpid()}")
    print(f"{out.rows} {time.monotonic() - started:.3f}")
    return 0


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of one child process."""
    # /usr/bin/time forks the measured command from its own small process: its %M is the
    # command's peak RSS alone (a child forked from this Python process would count our pages).
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        started = time.monotonic()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd], capture_output=True, text=True, env=env)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        peak_kib = int(rss_file.read().strip().splitlines()[-1])
    return wall, peak_kib * 1024, done.stdout


def psql(args, sql: str) -> None:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", args.host, "-p", str(args.port), "-U", args.user, "-d", args.dbname, "-c", sql],
                   check=True, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="PostgreSQL load benchmark: our loader vs psql \\copy (see the module docstring)")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--user", default="postgres")
    p.add_argument("--dbname", default=f"s3rb_bench_load_{os.getpid()}")
    p.add_argument("--child-loader", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_loader:
        return child_loader(args)

    workdir = Path(tempfile.mkdtemp(prefix="s3rb-bench-load-"))
    try:
        t0 = time.monotonic()
        cols, parquet, csv_path = build(workdir, args.rows)
        print(f"data: {args.rows:,} rows x {len(cols)} columns; Parquet {parquet.stat().st_size / 2**20:.1f} MiB, "
              f"CSV {csv_path.stat().st_size / 2**20:.1f} MiB (built in {time.monotonic() - t0:.1f} s)")
        admin = argparse.Namespace(**{**vars(args), "dbname": "postgres"})
        psql(admin, f'DROP DATABASE IF EXISTS "{args.dbname}"')
        psql(admin, f'CREATE DATABASE "{args.dbname}"')
        body = ", ".join(f'"{c.name}" {warehouse_type(c, "postgres")}' for c in cols)
        from s3rb_tui.engine.warehouses import sql as whsql

        psql(args, f"CREATE TABLE public.bench_loader ({body}); CREATE TABLE public.bench_copy ({body}); {whsql.create_ledger('public')}")
        loader_cmd = [sys.executable, __file__, "--child-loader", "--store", str(workdir / "store"), "--host", args.host,
                      "--port", str(args.port), "--user", args.user, "--dbname", args.dbname]
        copy_cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", args.host, "-p", str(args.port), "-U", args.user, "-d", args.dbname,
                    "-c", f"\\copy public.bench_copy FROM '{csv_path}' WITH (FORMAT csv)"]
        results: dict[str, list[tuple[float, float, int]]] = {"loader": [], "psql": []}
        for r in range(args.rounds):
            psql(args, "TRUNCATE public.bench_loader, public.bench_copy, public.s3rb_load_ledger")
            wall, rss, out = run_child(loader_cmd)
            rows, load_s = out.split()
            assert int(rows) == args.rows, out
            results["loader"].append((wall, float(load_s), rss))
            wall, rss, _ = run_child(copy_cmd)
            results["psql"].append((wall, wall, rss))
            print(f"round {r + 1}: loader {wall_rate(results['loader'][-1][0], args.rows)} rows/s (load only "
                  f"{wall_rate(float(load_s), args.rows)}), peak RSS {results['loader'][-1][2] / 2**20:.0f} MiB; "
                  f"psql \\copy {wall_rate(wall, args.rows)} rows/s, peak RSS {rss / 2**20:.0f} MiB")
        best_loader = min(results["loader"])
        best_psql = min(results["psql"])
        print(f"best: loader {args.rows / best_loader[0]:,.0f} rows/s ({best_loader[0]:.2f} s process, {best_loader[1]:.2f} s load), "
              f"peak RSS {max(x[2] for x in results['loader']) / 2**20:.0f} MiB")
        print(f"best: psql \\copy {args.rows / best_psql[0]:,.0f} rows/s ({best_psql[0]:.2f} s), peak RSS {max(x[2] for x in results['psql']) / 2**20:.0f} MiB")
        print(f"ratio (loader / psql, whole process): {best_psql[0] / best_loader[0]:.2f}x; load only: {best_psql[0] / best_loader[1]:.2f}x (target >= 0.9x)")
        psql(admin, f'DROP DATABASE IF EXISTS "{args.dbname}" WITH (FORCE)')
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def wall_rate(seconds: float, rows: int) -> str:
    return f"{rows / seconds:,.0f}"


if __name__ == "__main__":
    raise SystemExit(main())
