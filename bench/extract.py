"""Extraction benchmark: our backup (fast path and fallback) against pandas and connectorx alone.

For each row count N (``--rows 300000 1000000``) it builds the 51-column settlement table in
MariaDB (``bench/settlement_table.py``), then measures, each in a fresh subprocess (whole process:
interpreter start, imports, connection, extraction, Parquet on local disk):

- ``fast``        ``s3rb-tui --run backup`` into a ``STORE_URL=file://`` store, ``--extract-engine fast``
- ``fallback``    the same with ``--extract-engine pymysql``

  (both are the table's first backup into an empty store: an initial scan in primary-key order,
  ``BACKUP_NUM_CHUNKS`` stripes at a time on the fast path)
- ``keyset``      the fast path reading the whole table incrementally: ``watermark set`` to a time
  before every row (not timed), then the backup walks the (cursor, key) index in keyset pages, as
  an incremental run that has fallen far behind does
- ``naive``       ``pandas.read_sql`` over a pymysql connection + ``DataFrame.to_parquet``
- ``connectorx``  ``connectorx.read_sql(..., return_type="arrow", partition_on=ID, partition_num=2)`` + ``pyarrow.parquet.write_table``

Peak RSS is the child's own maximum resident set (``os.wait4``). Rows/s = N / wall seconds.
``fast`` and ``connectorx`` are measured ``--pairs`` times (default 3), alternately, and each is
reported by its median run: on a 2-core machine one run of either swings by up to 40%.
It prints one line per path and N, the ratios against naive and connectorx, and whether the
targets hold: issue 2 (backup >= 1.3x naive throughput; peak RSS <= 400 MiB and not growing with
N) and issue 7 (fast path >= 1.0x connectorx throughput at <= 0.5x its peak RSS on the largest
table, 1M rows in the issue; flat in N).
The password (``--password``) reaches the children through the environment only.

    python bench/extract.py --rows 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.settlement_table import TABLE, build  # noqa: E402

PATHS = ("fast", "connectorx", "keyset", "fallback", "naive")  # measured in this order: the two compared by issue 7 back to back
BEFORE_EVERY_ROW = "2025-12-31 00:00:00"  # the table's cursor starts at 2026-01-01
MIB = 1024 * 1024

# The naive and connectorx children: the table name and settings come from the environment.
NAIVE = """
import os, pandas as pd, pymysql
conn = pymysql.connect(host=os.environ['DB_HOST'], port=int(os.environ['DB_PORT']), user=os.environ['DB_USER'],
                       password=os.environ['DB_PASSWORD'], database=os.environ['DB_DATABASE'], charset='utf8mb4')
df = pd.read_sql(f"SELECT * FROM `{os.environ['BENCH_TABLE']}`", conn)
df.to_parquet(os.path.join(os.environ['BENCH_OUT'], 'naive.parquet'))
print(len(df))
"""
CONNECTORX = """
import os, urllib.parse, connectorx as cx, pyarrow.parquet as pq
pw = os.environ['DB_PASSWORD']
auth = urllib.parse.quote(os.environ['DB_USER'], safe='') + (':' + urllib.parse.quote(pw, safe='') if pw else '')
url = f"mysql://{auth}@{os.environ['DB_HOST']}:{os.environ['DB_PORT']}/{os.environ['DB_DATABASE']}"
t = cx.read_sql(url, f"SELECT * FROM `{os.environ['BENCH_TABLE']}`", return_type='arrow', partition_on='ID', partition_num=2)
pq.write_table(t, os.path.join(os.environ['BENCH_OUT'], 'connectorx.parquet'))
print(t.num_rows)
"""


@dataclass
class Measure:
    path: str
    rows: int
    seconds: float
    peak_rss: int  # bytes
    ok: bool
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _run(cmd: list[str], env: dict, timeout: float) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS bytes, exit status, output tail) of one child process."""
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=env["BENCH_OUT"])
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        tail = out.read().decode(errors="replace")[-2000:]
    return seconds, usage.ru_maxrss * 1024, proc.returncode, tail


def _parquet_rows(directory: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in directory.rglob("*.parquet"))


def measure(path: str, n: int, base_env: dict, batch_size: int, timeout: float) -> Measure:
    """One path at one N in a fresh subprocess, its output counted afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"s3rb-bench-{path}-") as tmp:
        tmpdir = Path(tmp)
        env = {**base_env, "BENCH_OUT": str(tmpdir), "BENCH_TABLE": TABLE}
        if path in ("fast", "fallback", "keyset"):
            store = tmpdir / "store"
            store.mkdir()
            env.update(STORE_URL=f"file://{store}")
            cli = [sys.executable, "-m", "s3rb_tui", "--run"]
            if path == "keyset":
                subprocess.run([*cli, "watermark", "set", "-t", TABLE, "--timestamp", BEFORE_EVERY_ROW, "--force"], env=env,
                               cwd=env["BENCH_OUT"], check=True, capture_output=True, timeout=timeout)
            cmd = [*cli, "backup", "-t", TABLE, "--batch-size", str(batch_size), "--extract-engine",
                   "pymysql" if path == "fallback" else "fast", "--log-file", str(tmpdir / "log.jsonl")]
        else:
            cmd = [sys.executable, "-c", NAIVE if path == "naive" else CONNECTORX]
        seconds, rss, code, tail = _run(cmd, env, timeout)
        if code != 0:
            return Measure(path, n, seconds, rss, False, f"exit {code}: {tail.strip().splitlines()[-1] if tail.strip() else ''}")
        got = _parquet_rows(tmpdir)
        note = "" if got == n else f"wrote {got:,} rows, expected {n:,}"
        return Measure(path, n, seconds, rss, got == n, note)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def median_run(runs: list[Measure]) -> Measure:
    """The run with the median time (of an even number, the slower middle one); a failed run wins."""
    failed = [m for m in runs if not m.ok]
    if failed:
        return failed[0]
    return sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]


def report(results: dict[int, dict[str, Measure]], pairs: dict[int, list[tuple[Measure, Measure]]] | None = None) -> list[str]:
    lines = [f"{'N':>9}  {'path':<11} {'rows/s':>9} {'peak RSS':>10} {'vs naive':>9} {'vs cx':>7} {'RSS vs cx':>9}  note"]
    for n, by_path in results.items():
        naive, cx = by_path.get("naive"), by_path.get("connectorx")
        for m in by_path.values():
            lines.append(
                f"{n:>9,}  {m.path:<11} {m.rate:>9,.0f} {m.peak_rss / MIB:>7,.0f} MiB"
                f" {_ratio(m.rate, naive.rate) if naive and naive.ok else 'n/a':>9}"
                f" {_ratio(m.rate, cx.rate) if cx and cx.ok else 'n/a':>7}"
                f" {_ratio(m.peak_rss, cx.peak_rss) if cx and cx.ok else 'n/a':>9}  {'' if m.ok else 'FAILED '}{m.note}"
            )
    for n, runs in (pairs or {}).items():
        if len(runs) > 1:
            ratios = ", ".join(f"{f.rate / c.rate:.2f}" for f, c in runs if f.ok and c.ok)
            lines.append(f"N={n:,}: fast/connectorx in each of {len(runs)} alternating pairs: {ratios}")
    lines.append("")
    lines += targets(results)
    return lines


def _flat(values: list[int]) -> bool:
    """Peak RSS not growing with N: the largest N's peak within 15% (or 32 MiB) of the smallest N's."""
    return len(values) < 2 or values[-1] <= max(values[0] * 1.15, values[0] + 32 * MIB)


def targets(results: dict[int, dict[str, Measure]]) -> list[str]:
    out = []
    ns = sorted(results)
    for path in ("fast", "fallback"):
        ms = [results[n].get(path) for n in ns]
        if not all(m and m.ok for m in ms):
            continue
        peaks = [m.peak_rss for m in ms]  # type: ignore[union-attr]
        for n, m in zip(ns, ms):
            naive = results[n].get("naive")
            if naive and naive.ok:
                out.append(f"issue 2 [{path}, N={n:,}]: throughput {_ratio(m.rate, naive.rate)} naive (target >= 1.3x): "
                           f"{'MET' if m.rate >= 1.3 * naive.rate else 'NOT MET'}")
        out.append(f"issue 2 [{path}]: peak RSS {', '.join(f'{p / MIB:.0f}' for p in peaks)} MiB (target <= 400 MiB, flat in N): "
                   f"{'MET' if max(peaks) <= 400 * MIB and _flat(peaks) else 'NOT MET'}")
    ms = [results[n].get("fast") for n in ns]
    if all(m and m.ok for m in ms):
        for n, m in zip(ns, ms):
            cx = results[n].get("connectorx")
            if cx and cx.ok:
                fast_enough = m.rate >= cx.rate
                small_enough = m.peak_rss <= 0.5 * cx.peak_rss
                figures = (f"throughput {_ratio(m.rate, cx.rate)} connectorx (target >= 1.0x), peak RSS "
                           f"{_ratio(m.peak_rss, cx.peak_rss)} (target <= 0.5x)")
                if n == ns[-1]:
                    out.append(f"issue 7 [N={n:,}]: {figures}: {'MET' if fast_enough and small_enough else 'NOT MET'}")
                else:  # connectorx holds the whole table: against a smaller one its memory is smaller too
                    out.append(f"issue 7 [N={n:,}, for reference; the targets are set on the largest table]: {figures}")
        peaks = [m.peak_rss for m in ms]  # type: ignore[union-attr]
        out.append(f"issue 7: fast path peak RSS flat in N ({', '.join(f'{p / MIB:.0f}' for p in peaks)} MiB): {'MET' if _flat(peaks) else 'NOT MET'}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Extraction benchmark (see the module docstring).")
    p.add_argument("--rows", type=int, nargs="+", default=[300_000, 1_000_000])
    p.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    p.add_argument("--database", default="s3rb_bench")
    p.add_argument("--host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("DB_PORT", "3306")))
    p.add_argument("--user", default=os.environ.get("DB_USER", "root"))
    p.add_argument("--password", default=os.environ.get("DB_PASSWORD", ""), help="default: DB_PASSWORD")
    p.add_argument("--batch-size", type=int, default=50_000, help="rows per Parquet file for the fast path (default 50000)")
    p.add_argument("--fallback-batch-size", type=int, default=10_000,
                   help="rows per query and file for the pymysql fallback (default 10000, BACKUP_BATCH_SIZE's default)")
    p.add_argument("--chunks", type=int, default=2, help="BACKUP_NUM_CHUNKS for the fast path: stripes read at once (default 2)")
    p.add_argument("--pairs", type=int, default=3,
                   help="runs of fast and connectorx, alternately, per N; each is reported by its median run (default 3)")
    p.add_argument("--reuse", action="store_true", help="keep the table when it already holds N rows")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement")
    p.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    a = p.parse_args(argv)

    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "DB_HOST": a.host, "DB_PORT": str(a.port), "DB_USER": a.user, "DB_PASSWORD": a.password,
        "DB_DATABASE": a.database, "AWS_EC2_METADATA_DISABLED": "true", "BACKUP_NUM_CHUNKS": str(a.chunks),
    }
    print(f"settlement table ({TABLE}, 51 columns) in {a.database} at {a.host}:{a.port}; fast path: "
          f"--batch-size {a.batch_size}, BACKUP_NUM_CHUNKS={a.chunks}; fallback: --batch-size {a.fallback_batch_size}; "
          f"{os.cpu_count()} CPUs", flush=True)
    conn_args = dict(host=a.host, port=a.port, user=a.user, password=a.password)
    if a.pairs < 1:
        p.error("--pairs must be at least 1")
    results: dict[int, dict[str, Measure]] = {}
    pairs: dict[int, list[tuple[Measure, Measure]]] = {}
    for n in a.rows:
        if not (a.reuse and _row_count(conn_args, a.database) == n):
            build(conn_args, a.database, n)
        results[n] = {}

        def run(path: str) -> Measure:
            m = measure(path, n, base_env, a.fallback_batch_size if path == "fallback" else a.batch_size, a.timeout)
            print(f"  N={n:,} {path}: {m.rate:,.0f} rows/s, {m.seconds:.1f} s, peak RSS {m.peak_rss / MIB:,.0f} MiB"
                  + ("" if m.ok else f"  FAILED {m.note}"), flush=True)
            return m

        paired = [p for p in ("fast", "connectorx") if p in a.paths]
        runs: dict[str, list[Measure]] = {p: [] for p in paired}
        for _ in range(a.pairs if len(paired) == 2 else 1):
            for path in paired:
                runs[path].append(run(path))
        for path in a.paths:
            results[n][path] = median_run(runs[path]) if path in runs else run(path)
        if len(paired) == 2:
            pairs[n] = list(zip(runs["fast"], runs["connectorx"]))
    print()
    print("\n".join(report(results, pairs)))
    if a.json:
        Path(a.json).write_text(json.dumps({
            str(n): {**{k: vars(m) for k, m in r.items()},
                     "pairs": [{"fast": vars(f), "connectorx": vars(c)} for f, c in pairs.get(n, [])]}
            for n, r in results.items()
        }, indent=2))
    return 0 if all(m.ok for r in results.values() for m in r.values()) else 1


def _row_count(conn_args: dict, database: str) -> int | None:
    import pymysql

    try:
        conn = pymysql.connect(**conn_args, database=database)
    except pymysql.err.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM `{TABLE}`")
            return int(cur.fetchone()[0])
    except pymysql.err.MySQLError:
        return None
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
