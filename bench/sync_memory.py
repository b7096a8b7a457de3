"""Sync memory benchmark: ``s3rb-tui --run sync`` to PostgreSQL, whole process tree, RSS per phase.

For each row count N (``--rows 300000 1000000``) it builds the 51-column settlement table in
MariaDB (``bench/settlement_table.py``), then runs, each in a fresh subprocess into an empty
``STORE_URL=file://`` store and a fresh PostgreSQL database:

- ``sync``    ``s3rb-tui --run sync -t T`` (backup, then the merge load), the defaults unless
  ``--batch-size`` / ``--chunks`` are given
- ``backup``  ``s3rb-tui --run backup -t T`` alone, the same settings (the extraction the sync holds)

Memory: the resident set of the child and all its descendants (psutil), sampled every
``--interval`` seconds (default 0.05); each sample is tagged with the phase the child's JSON log
last announced (``backup phase started``, then ``backup done`` for the load), so the report says how much
of the peak each phase holds. ``os.wait4``'s ``ru_maxrss`` (the child's own kernel-counted maximum)
is printed beside it: sampling can miss a short spike, the kernel cannot.
``--runs`` (default 3) runs of each path alternate (sync, backup, sync, ...; with ``--pools``, each
path under each Arrow allocator in turn: the before/after of the allocator choice), each reported by its
median; on a shared 2-core machine one run swings by up to 40%.

Targets (issue 17): the sync's peak <= 500 MiB and flat from the smallest N to the largest.

    python bench/sync_memory.py --rows 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.settlement_table import TABLE, build  # noqa: E402

MIB = 1024 * 1024
# log lines that start a phase (the sync's backup announces itself; its load follows the backup's "backup done")
PHASE_MARKS = (("backup phase started", "backup"), ('"backup done"', "load"), ("Sync operation completed", "end"))


@dataclass
class Run:
    path: str
    rows: int
    seconds: float
    peak_tree: int  # bytes, sampled over the process tree
    maxrss: int  # bytes, the child's own ru_maxrss
    by_phase: dict[str, int] = field(default_factory=dict)  # phase -> sampled peak
    phase_seconds: dict[str, float] = field(default_factory=dict)
    ok: bool = True
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_child(cmd: list[str], env: dict, log_path: Path, interval: float, timeout: float) -> Run:
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=env["BENCH_OUT"])
        ps = psutil.Process(child.pid)
        phase, offset, peak = "start", 0, 0
        by_phase: dict[str, int] = {}
        phase_started = {"start": started}
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            if log_path.exists():
                with open(log_path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                    cut = chunk.rfind(b"\n") + 1
                    offset += cut
                for line in chunk[:cut].decode(errors="replace").splitlines():
                    for mark, name in PHASE_MARKS:
                        if mark in line:
                            phase = name
                            phase_started[name] = time.monotonic()
            rss = tree_rss(ps)
            peak = max(peak, rss)
            by_phase[phase] = max(by_phase.get(phase, 0), rss)
            time.sleep(interval)
        seconds = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        tail = out.read().decode(errors="replace")[-2000:]
    order = [p for p in ("start", "backup", "load", "end") if p in phase_started]
    times = {p: round((phase_started[order[i + 1]] if i + 1 < len(order) else started + seconds) - phase_started[p], 1)
             for i, p in enumerate(order)}
    run = Run("", 0, seconds, peak, usage.ru_maxrss * 1024, by_phase, times)
    if code != 0:
        run.ok, run.note = False, f"exit {code}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
    return run


def psql(dbname: str, sql: str, args) -> None:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
                    "-d", dbname, "-c", sql], check=True, capture_output=True, text=True)


def measure(path: str, n: int, base_env: dict, args, pool: str = "") -> Run:
    with tempfile.TemporaryDirectory(prefix=f"s3rb-bench-sync-{path}-") as tmp:
        tmpdir = Path(tmp)
        store = tmpdir / "store"
        store.mkdir()
        dbname = f"s3rb_bench_sync_{os.getpid()}"
        psql("postgres", f'DROP DATABASE IF EXISTS "{dbname}"', args)
        psql("postgres", f'CREATE DATABASE "{dbname}"', args)
        env = {**base_env, "BENCH_OUT": str(tmpdir), "STORE_URL": f"file://{store}", "REDSHIFT_DATABASE": dbname}
        if pool:
            env["ARROW_DEFAULT_MEMORY_POOL"] = pool
        log = tmpdir / "log.jsonl"
        cmd = [sys.executable, "-m", "s3rb_tui", "--run", path, "-t", TABLE, "--log-file", str(log)]
        if args.batch_size:
            cmd += ["--batch-size", str(args.batch_size)]
        try:
            r = run_child(cmd, env, log, args.interval, args.timeout)
        finally:
            psql("postgres", f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)', args)
        r.path, r.rows = path + (f"@{pool}" if pool else ""), n
        return r


def median(runs: list[Run]) -> Run:
    failed = [r for r in runs if not r.ok]
    return failed[0] if failed else sorted(runs, key=lambda r: r.peak_tree)[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Sync memory benchmark (see the module docstring).")
    p.add_argument("--rows", type=int, nargs="+", default=[300_000, 1_000_000])
    p.add_argument("--paths", nargs="+", choices=("sync", "backup"), default=["sync", "backup"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pools", nargs="+", default=[""], metavar="POOL",
                   help="ARROW_DEFAULT_MEMORY_POOL values to alternate (e.g. mimalloc jemalloc; default: the product's own choice)")
    p.add_argument("--batch-size", type=int, default=0, help="--batch-size for the runs (default: BACKUP_BATCH_SIZE's default)")
    p.add_argument("--chunks", type=int, default=0, help="BACKUP_NUM_CHUNKS (default: its default)")
    p.add_argument("--database", default="s3rb_bench")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="root")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--reuse", action="store_true", help="keep the table when it already holds N rows")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "DB_HOST": a.host, "DB_PORT": str(a.port), "DB_USER": a.user, "DB_PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "DB_DATABASE": a.database, "AWS_EC2_METADATA_DISABLED": "true",
        "WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": a.pg_host, "REDSHIFT_PORT": str(a.pg_port), "REDSHIFT_USER": a.pg_user,
    }
    if a.chunks:
        base_env["BACKUP_NUM_CHUNKS"] = str(a.chunks)
    print(f"settlement table ({TABLE}) in {a.database}; batch {a.batch_size or 'default'}, chunks {a.chunks or 'default'}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    results: dict[int, dict[str, Run]] = {}
    from bench.extract import _row_count

    conn_args = {"host": a.host, "port": a.port, "user": a.user, "password": base_env["DB_PASSWORD"]}
    for n in a.rows:
        if not (a.reuse and _row_count(conn_args, a.database) == n):
            build(conn_args, a.database, n)
        runs: dict[str, list[Run]] = {}
        for _ in range(a.runs):
            for path in a.paths:
                for pool in a.pools:
                    r = measure(path, n, base_env, a, pool)
                    runs.setdefault(r.path, []).append(r)
                    phases = ", ".join(f"{k} {v / MIB:.0f} MiB/{r.phase_seconds.get(k, 0):.1f}s" for k, v in r.by_phase.items())
                    print(f"  N={n:,} {r.path}: {r.rate:,.0f} rows/s, {r.seconds:.1f} s, peak tree RSS {r.peak_tree / MIB:.0f} MiB "
                          f"(ru_maxrss {r.maxrss / MIB:.0f} MiB; {phases}; load avg {os.getloadavg()[0]:.1f})"
                          + ("" if r.ok else f" FAILED {r.note}"), flush=True)
        results[n] = {path: median(rs) for path, rs in runs.items()}
    print()
    print(f"{'N':>9}  {'path':<16} {'rows/s':>8} {'peak':>9} {'maxrss':>9}  per phase")
    for n, by in results.items():
        for r in by.values():
            print(f"{n:>9,}  {r.path:<16} {r.rate:>8,.0f} {r.peak_tree / MIB:>5,.0f} MiB {r.maxrss / MIB:>5,.0f} MiB  "
                  + ", ".join(f"{k} {v / MIB:.0f}" for k, v in r.by_phase.items()) + ("" if r.ok else f"  FAILED {r.note}"))
    for name in sorted({k for by in results.values() for k in by if k.startswith("sync")}):
        peaks = [by[name].peak_tree for by in results.values() if name in by]
        flat = len(peaks) < 2 or peaks[-1] <= max(peaks[0] * 1.15, peaks[0] + 32 * MIB)
        print(f"issue 17 [{name}]: sync peak {', '.join(f'{x / MIB:.0f}' for x in peaks)} MiB (target <= 500 MiB, flat in N): "
              f"{'MET' if max(peaks) <= 500 * MIB and flat else 'NOT MET'}")
    if a.json:
        Path(a.json).write_text(json.dumps({str(n): {k: vars(r) for k, r in by.items()} for n, by in results.items()}, indent=2))
    return 0 if all(r.ok for by in results.values() for r in by.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
