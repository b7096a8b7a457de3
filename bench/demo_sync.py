"""Demo sync memory: ``s3rb-tui --run sync -t 'settlement.*'`` on the demo workspace (SQLite source,
local store, DuckDB warehouse, 200,000 delivery rows), peak RSS of the child (``os.wait4``).

Each run gets a fresh copy of one demo workspace built once (``s3rb_tui.demo.prepare_demo``), so
every run is the demo's first full sync. Variants (``--variants``) alternate round by round;
``backup`` is the backup alone (the extraction the sync holds). Extra settings per variant:
``NAME:VAR=VALUE,VAR=VALUE``. Target (issue 17): the full sync <= 300 MB.

    python bench/demo_sync.py --runs 3 --variants sync backup
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def build(root: Path) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", "import json; from s3rb_tui.demo import prepare_demo; print(json.dumps(prepare_demo()))"],
                         env={**os.environ, "S3RB_DEMO_DIR": str(root)}, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(variant: str, pristine: Path, demo_env: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit code) of one variant on a fresh copy of the workspace."""
    name, _, extra = variant.partition(":")
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-demo-") as tmp:
        root = Path(tmp) / "demo"
        shutil.copytree(pristine, root)
        env = {k: v.replace(str(pristine), str(root)) for k, v in demo_env.items()}
        env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=os.environ.get("HOME", "/tmp"))
        env.update(dict(kv.split("=", 1) for kv in extra.split(",") if kv))
        cmd = [sys.executable, "-m", "s3rb_tui", "--run", "backup" if name == "backup" else "sync", "-t", "settlement.*",
               "--log-file", str(Path(tmp) / "log.jsonl")]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:  # say why: the workspace and its log go with the temporary directory
            log = Path(tmp) / "log.jsonl"
            errors = [line for line in (log.read_text(errors="replace") if log.exists() else "").splitlines() if '"error"' in line]
            print(f"  {variant} exited {code}: {(errors or ['no error in the log'])[-1][:400]}", flush=True)
        return time.monotonic() - started, usage.ru_maxrss * 1024, code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Demo sync memory (see the module docstring).")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--variants", nargs="+", default=["sync", "backup"])
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s3rb-bench-demo-pristine-") as tmp:
        pristine = Path(tmp) / "demo"
        demo_env = build(pristine)
        print(f"demo workspace built; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
        runs: dict[str, list[tuple[float, int, int]]] = {v: [] for v in a.variants}
        for i in range(a.runs):
            for v in a.variants:
                r = run(v, pristine, demo_env)
                runs[v].append(r)
                print(f"  round {i + 1} {v}: {r[0]:.1f} s, peak RSS {r[1] / MIB:.0f} MiB ({r[1] / 1e6:.0f} MB), exit {r[2]}, "
                      f"load avg {os.getloadavg()[0]:.1f}", flush=True)
    print()
    for v, rs in runs.items():
        peak = statistics.median(r[1] for r in rs)
        print(f"{v:<40} median peak RSS {peak / MIB:.0f} MiB ({peak / 1e6:.0f} MB), median {statistics.median(r[0] for r in rs):.1f} s;"
              f" runs: {', '.join(f'{r[1] / MIB:.0f}' for r in rs)} MiB" + ("" if all(r[2] == 0 for r in rs) else "  FAILED"))
    return 0 if all(r[2] == 0 for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
