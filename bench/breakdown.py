"""Where a first backup's time goes: the fast path's steps run one after another on one thread over
the settlement table, CPU seconds per step (this process's, connectorx's Rust threads included,
``time.process_time``) and the local server's CPU during each step (``/proc/<mariadbd>/stat``).

Steps per query of ``--query-rows`` rows in primary-key order (the first backup's initial scan,
the same SELECT list as the backup: ``arrow_transport``): connectorx's read (server + client
decode), the conversion to the rule types (``BatchConverter.batches``: sliced into files of
``--batch-size``), the Parquet encoding of each file (the backup's writer), and the copy into a
local store directory; with ``--s3``, the upload of each file to S3 as well (the product's
``S3Store.put_file`` with botocore's AWS defaults, so the client computes the CRC32 checksums AWS
asks for, to moto's server mode in a process of its own on loopback: this process's CPU is the
client's cost of an upload; the network and S3's side are not measured). Beside them,
``mariadb --quick --batch > /dev/null`` of ``SELECT *`` (the wire) in the same run, ``--runs`` times
alternating. Everything runs sequentially, so the steps' sum is what one connection costs.

    python bench/breakdown.py --database s3rb_bench --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import connectorx as cx  # noqa: E402
import pyarrow as pa  # noqa: E402

import s3rb_tui  # noqa: E402,F401  (Arrow's allocator, as in the backup)
from bench.defaults import _cpu_of, _server_pid  # noqa: E402
from bench.moto_s3 import MotoS3  # noqa: E402
from bench.settlement_table import TABLE  # noqa: E402
from s3rb_tui.engine.core.batch_sizes import FILE_ROWS, QUERY_ROWS  # noqa: E402
from s3rb_tui.engine.core.table_names import TableRef  # noqa: E402
from s3rb_tui.engine.ops.backup import _ParquetBatchWriter  # noqa: E402
from s3rb_tui.engine.sources.arrow_transport import ColumnsRead  # noqa: E402
from s3rb_tui.engine.sources.mysql import MySQLSource  # noqa: E402

STEPS = ("read (connectorx)", "convert + slice", "Parquet encode", "store copy")
S3_STEP = "S3 upload (client)"


def one_run(a, schema, server: int | None, s3=None) -> dict[str, tuple[float, float]]:
    """{step: (client CPU s, server CPU s)} of one pass over the table (``s3``: an S3 store each
    file is uploaded to as well, its step's server column moto's CPU)."""
    read = ColumnsRead.of(schema)
    select = ", ".join(t.select for t in read.transports)
    url = f"mysql://{a.user}@{a.host}:{a.port}/{a.database}"
    out = {s: [0.0, 0.0] for s in STEPS + ((S3_STEP,) if s3 is not None else ())}
    moto = s3.proc.pid if s3 is not None else None
    bucket = s3.store() if s3 is not None else None
    tmp = tempfile.mkdtemp(prefix="s3rb-bench-breakdown-")
    store = Path(tmp) / "store"
    store.mkdir()
    writer = _ParquetBatchWriter(tmp, ["update_at", "ID"])
    after, files = 0, 0

    def timed(step, fn, other: int | None = server):
        c0, s0 = time.process_time(), _cpu_of(other)
        value = fn()
        out[step][0] += time.process_time() - c0
        out[step][1] += _cpu_of(other) - s0
        return value

    while True:
        sql = f"SELECT {select} FROM `{TABLE}` WHERE ID > {after} ORDER BY ID LIMIT {a.query_rows}"
        table = timed(STEPS[0], lambda: cx.read_sql(url, sql, return_type="arrow", pre_execution_query=["SET time_zone = '+00:00'"]))
        if table.num_rows == 0:
            break
        raw = pa.concat_batches(table.to_batches())
        page = timed(STEPS[1], lambda: read.converter.batches(raw, read.transports, None, a.batch_size))
        for sb in page:
            path = timed(STEPS[2], lambda: writer.write(sb.batch))
            files += 1
            if bucket is not None:
                timed(S3_STEP, lambda: bucket.put_file(f"incremental/bench/batch_{files:05d}.parquet", path), moto)
            timed(STEPS[3], lambda: shutil.move(path, store / f"batch_{files:05d}.parquet"))
        after = page[-1].batch.column("ID")[-1].as_py()
        if table.num_rows < a.query_rows:
            break
    shutil.rmtree(tmp)
    return {s: (c, v) for s, (c, v) in out.items()}


def wire(a, server: int | None) -> tuple[float, float, float]:
    """(wall s, client CPU s, server CPU s) of ``mariadb --quick --batch > /dev/null``."""
    s0, t0 = _cpu_of(server), time.monotonic()
    pid = subprocess.Popen(["sh", "-c", f'exec mariadb --quick --batch -h {a.host} -P {a.port} -u {a.user} {a.database} '
                                        f'-e "SELECT * FROM \\`{TABLE}\\`" > /dev/null']).pid
    _, _, usage = os.wait4(pid, 0)
    return time.monotonic() - t0, usage.ru_utime + usage.ru_stime, _cpu_of(server) - s0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Where a first backup's time goes (see the module docstring).")
    p.add_argument("--database", default="s3rb_bench")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="root")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--query-rows", type=int, default=QUERY_ROWS, help="rows a query (default BACKUP_QUERY_ROWS's)")
    p.add_argument("--batch-size", type=int, default=FILE_ROWS, help="rows a file (default BACKUP_BATCH_SIZE's)")
    p.add_argument("--s3", action="store_true", help="also upload every file to moto's S3 server (moto[server] installed)")
    a = p.parse_args(argv)
    server = _server_pid()
    with MySQLSource(a.host, a.port, a.user, "") as src:
        schema = src.discover(TableRef(a.database, TABLE))
    print(f"{TABLE} in {a.database}; queries of {a.query_rows:,} rows, files of {a.batch_size:,}; load average {os.getloadavg()[0]:.1f}")
    ours: list[dict[str, tuple[float, float]]] = []
    wires: list[tuple[float, float, float]] = []
    s3 = MotoS3() if a.s3 else None
    try:
        for i in range(a.runs):
            ours.append(one_run(a, schema, server, s3))
            wires.append(wire(a, server))
            total = sum(c + s for c, s in ours[-1].values())
            print(f"  round {i + 1}: ours " + ", ".join(f"{k} {c:.2f}+{s:.2f} s" for k, (c, s) in ours[-1].items())
                  + f" (total {total:.1f} s); wire {wires[-1][1]:.2f}+{wires[-1][2]:.2f} s CPU, {wires[-1][0]:.1f} s wall; "
                  f"load avg {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if s3 is not None:
            s3.close()
    print(f"\n{'step':<20} {'client CPU':>10} {'server CPU':>10}   (medians of {a.runs}; the S3 step's server: moto)")
    for step in ours[0]:
        print(f"{step:<20} {statistics.median(r[step][0] for r in ours):>8.2f} s {statistics.median(r[step][1] for r in ours):>8.2f} s")
    print(f"{'wire (mariadb)':<20} {statistics.median(w[1] for w in wires):>8.2f} s {statistics.median(w[2] for w in wires):>8.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
