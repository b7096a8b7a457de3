"""Console responsiveness: time to first frame on the demo data, and key-to-render latency while a
sync of many rows runs.

    python bench/tui_latency.py [--rows 1000000] [--samples 100] [--key-interval 0.25] [--dir /tmp/s3rb-tui-bench]

It builds the embedded demo (``S3RB_DEMO_DIR``/``S3RB_DEMO_ROWS``, reused when it already has that
many rows), then:

1. first frame, two ways, each compared with the 0.5 s target:
   - as a user gets it: ``s3rb-tui --demo`` (the installed command, the same argv path) runs in a
     pseudo-terminal of 120x36; timed from just before the launch until the Dashboard's first frame
     has been written to the terminal (its column header appears in the output); then ctrl+q;
   - in-process: a fresh interpreter opens the console headless on the demo and reports the time
     from launch (Python start-up and imports included) and from the app's construction to its first
     displayed frame (Textual's ``post_display_hook``);
2. latency: starts a real sync of the delivery table from the console and, while it runs, presses
   keys that switch screens (a full repaint each) and measures from the key press to the first
   frame of the new screen. Prints p50/p95/max and how many rows the sync had moved meanwhile.

``--first-frame-only`` skips the sync. In-process frames are timed at Textual's ``post_display_hook``
in headless mode, so terminal output time is not included there (it is in the terminal figure);
over SSH add the link's round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_MS = 500  # the target: first frame within 0.5 s of start on the demo data
#: a Dashboard column header: in the first frame, and on no other screen
DASHBOARD_MARK = b"Total ext/ld"

FIRST_FRAME_CHILD = r"""
import json, os, sys, time
started = float(os.environ["S3RB_BENCH_LAUNCHED"])  # the parent's clock just before it started us
from s3rb_tui.demo import prepare_demo
from s3rb_tui.settings import load_settings
from s3rb_tui.tui.app import ConsoleApp
env = prepare_demo()
settings = load_settings(None, environ=env, cwd=__import__("pathlib").Path("/nonexistent"))

class Timed(ConsoleApp):
    first = None
    def post_display_hook(self):
        super().post_display_hook()
        # Textual calls the hook after every display attempt, also those a batch update (start-up,
        # a mode switch) holds back: only an unbatched one would reach a terminal.
        shown = not getattr(self, "_batch_count", 0)
        if self.first is None and shown and self.screen.is_mounted and type(self.screen).__name__ == "DashboardScreen":
            self.first = time.time()
            self.exit()

constructed = time.time()
app = Timed(settings, demo=True)
app.run(headless=True, size=(120, 36))
print(json.dumps({"since_process_start": app.first - started, "since_app_construction": app.first - constructed}))
"""


def child_env(tree: Path | None, pycache: Path) -> dict[str, str]:
    """The environment of a console child. Python's bytecode cache is on, as for an installed
    package (pip compiles on install), in ``pycache`` so the checkout stays clean; ``tree`` (a
    baseline's ``s3rb_tui``) goes first on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "TEXTUAL")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def baseline_tree(rev: str, root: Path) -> Path:
    """``s3rb_tui`` as of git revision ``rev``, exported under ``root``."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    tree = root / f"baseline-{sha}"
    if not (tree / "s3rb_tui").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "s3rb_tui"], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def prepare(root: Path, rows: int) -> dict[str, str]:
    os.environ["S3RB_DEMO_DIR"] = str(root)
    os.environ["S3RB_DEMO_ROWS"] = str(rows)
    from s3rb_tui import demo

    marker = demo.read_marker(root)
    have = (marker or {}).get("rows", {}).get("settlement_normal_delivery_detail")
    started = time.perf_counter()
    env = demo.prepare_demo(reset=have != rows)
    print(f"demo workspace: {root} ({rows:,} delivery rows, ready in {time.perf_counter() - started:.1f} s)")
    return env


def first_frame(env: dict[str, str], cwd: Path) -> dict:
    """One headless in-process launch: seconds from launch and from app construction to the first frame."""
    # Measured from the parent's clock just before the launch (psutil's process start time is
    # only as precise as the kernel's boot time, whole seconds).
    env = {**env, "S3RB_BENCH_LAUNCHED": repr(time.time())}
    proc = subprocess.run([sys.executable, "-c", FIRST_FRAME_CHILD], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"first-frame child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def console_command() -> list[str]:
    """The installed ``s3rb-tui`` next to this interpreter (what a user runs), else ``-m s3rb_tui``."""
    script = Path(sys.executable).with_name("s3rb-tui")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "s3rb_tui"]


def first_frame_terminal(env: dict[str, str], cwd: Path, columns: int = 120, lines: int = 36) -> float:
    """Seconds from launching ``s3rb-tui --demo`` in a pseudo-terminal to the Dashboard's first frame
    appearing in what it wrote to the terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    started = time.time()
    proc = subprocess.Popen([*console_command(), "--demo"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    written = b""
    seen = None
    try:
        while seen is None and time.time() - started < 60:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # the child closed the terminal
                    break
                written += chunk
                if DASHBOARD_MARK in written[-(len(chunk) + len(DASHBOARD_MARK)) :]:
                    seen = time.time() - started
            elif proc.poll() is not None:
                break
        if seen is None:
            raise SystemExit(f"s3rb-tui --demo showed no Dashboard within 60 s; it wrote: {written[-2000:]!r}")
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.time() + 30
        while proc.poll() is None and time.time() < deadline:  # keep reading so it can write
            if select.select([master], [], [], 0.2)[0]:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
        if proc.poll() is None:
            proc.kill()
    finally:
        proc.wait()
        os.close(master)
    return seen


def first_frames(runs: int, trees: dict[str, Path | None], root: Path) -> dict[str, dict[str, list[float]]]:
    """Both first-frame figures (ms) for each tree, the trees' launches interleaved run by run so a
    machine busy with something else affects them alike. One untimed launch each fills the bytecode cache."""
    root.mkdir(parents=True, exist_ok=True)
    envs = {label: child_env(tree, root / "pycache") for label, tree in trees.items()}
    for env in envs.values():
        first_frame(env, root)
    out = {label: {"terminal": [], "headless": [], "headless_app": []} for label in trees}
    for _ in range(runs):
        for label, env in envs.items():
            out[label]["terminal"].append(first_frame_terminal(env, root) * 1000)
            f = first_frame(env, root)
            out[label]["headless"].append(f["since_process_start"] * 1000)
            out[label]["headless_app"].append(f["since_app_construction"] * 1000)
    return out


async def latency(env: dict[str, str], samples: int, table: str, interval: float) -> dict:
    from textual import events

    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import build_settings
    from s3rb_tui.tui.app import ConsoleApp

    class Timed(ConsoleApp):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.frames: list[tuple[float, str]] = []

            self.waiting: tuple[str, asyncio.Event] | None = None

        def post_display_hook(self) -> None:
            super().post_display_hook()
            self.frames.append((time.perf_counter(), self.current_mode))
            if self.waiting is not None and self.waiting[0] == self.current_mode:
                self.waiting[1].set()

    settings = build_settings(env)
    with Workspace(settings) as ws:  # start from scratch so the sync moves every row
        ws.table_ref(table)  # refuses a bad name before the store is emptied
        ws.store.delete_many([i.key for i in ws.store.list("")])
    duck = Path(env["DUCKDB_PATH"])
    duck.unlink(missing_ok=True)
    app = Timed(settings)
    results: list[float] = []
    idle: list[float] = []

    async def one_key(i: int) -> float | None:
        target = ("jobs", "dashboard")[i % 2]
        key = "5" if target == "jobs" else "1"
        # Woken by the frame itself (post_display_hook), not by polling: a polling loop would keep
        # the UI thread busy and take the GIL from the sync it is meant to measure beside.
        shown = asyncio.Event()
        app.waiting = (target, shown)
        t0 = time.perf_counter()
        app.post_message(events.Key(key, key))  # what the terminal driver posts for a key
        try:
            await asyncio.wait_for(shown.wait(), 10)
        except asyncio.TimeoutError:
            return None
        finally:
            app.waiting = None
        hit = [t for t, m in app.frames if t > t0 and m == target]
        return hit[0] - t0 if hit else None

    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(1.0)
        for i in range(30):  # the same keys with nothing running, for reference
            if (lat := await one_key(i)) is not None:
                idle.append(lat)
            await asyncio.sleep(0.05)
        job = app.run_sync([table])
        waited = time.perf_counter()
        while job.running and job.totals[0] == 0:  # time keys while rows move, not while it starts up
            await pilot.pause(0.05)
        print(f"sync: first rows committed {time.perf_counter() - waited:.1f} s after the start")
        def progress() -> str:
            return f"{job.totals[0]:,} rows ({', '.join(sorted({p.phase for p in job.progress.values()}))})"

        during = [progress()]
        i = 0
        while job.running and len(results) < samples:
            if (lat := await one_key(i)) is not None:
                results.append(lat)
            i += 1
            await asyncio.sleep(interval)  # an operator's pace, not a key flood
        during.append(progress())
        rows_during = " -> ".join(during)
        while job.running:
            await pilot.pause(0.2)
        rows_total, files = job.totals
    return {"samples": results, "idle": idle, "rows_during": rows_during, "rows_total": rows_total, "files": files, "status": job.status, "error": job.error}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def verdict(median_ms: float) -> str:
    return f"{'within' if median_ms <= TARGET_MS else 'OVER'} the {TARGET_MS} ms target"


def main() -> None:
    parser = argparse.ArgumentParser(description="console first-frame time and key-to-render latency during a sync")
    parser.add_argument("--rows", type=int, default=1_000_000, help="delivery rows in the demo (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=100, help="key presses to time during the sync")
    parser.add_argument("--key-interval", type=float, default=0.25,
                        help="seconds between timed key presses (default 0.25: a brisk operator; at 0.05, 14 screen "
                             "switches a second, the sync stalls under the headless test driver, see the progress line)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/s3rb-tui-bench"), help="demo workspace directory")
    parser.add_argument("--first-frame-runs", type=int, default=5)
    parser.add_argument("--first-frame-only", action="store_true", help="measure the first frame only, no sync")
    parser.add_argument("--baseline", metavar="GIT_REV", help="also time the first frame of s3rb_tui as of this revision, interleaved with the working tree")
    args = parser.parse_args()
    env = prepare(args.dir, args.rows)

    scratch = args.dir.with_name(args.dir.name + "-first-frame")  # bytecode cache, baseline trees
    trees: dict[str, Path | None] = {"working tree": None}
    if args.baseline:
        trees[f"baseline {args.baseline}"] = baseline_tree(args.baseline, scratch)
    frames = first_frames(args.first_frame_runs, trees, scratch)
    print(f"first frame (bytecode cached as when installed; n={args.first_frame_runs} each, launches interleaved):")
    for label, f in frames.items():
        t, h, a = f["terminal"], f["headless"], f["headless_app"]
        print(f"  {label}: s3rb-tui --demo in a 120x36 terminal: runs {', '.join(f'{x:.0f}' for x in t)} ms; "
              f"median {statistics.median(t):.0f} ms — {verdict(statistics.median(t))}")
        print(f"  {label}: in-process headless: runs {', '.join(f'{x:.0f}' for x in h)} ms from launch; "
              f"median {statistics.median(h):.0f} ms; median {statistics.median(a):.0f} ms from app construction")
    if args.first_frame_only:
        return

    from s3rb_tui.demo_data import DELIVERY

    r = asyncio.run(latency(env, args.samples, f"settlement.{DELIVERY}", args.key_interval))
    ms = [s * 1000 for s in r["samples"]]
    if not ms:
        raise SystemExit(f"the sync ended before any key was timed ({r['status']}); use more --rows")
    idle = [s * 1000 for s in r["idle"]]
    print(f"key-to-render with nothing running (n={len(idle)}): p50 {pct(idle, 50):.1f} ms, p95 {pct(idle, 95):.1f} ms")
    print(f"key-to-render during the sync (n={len(ms)}): p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, max {max(ms):.1f} ms")
    print(f"sync: {r['status']}, {r['rows_total']:,} rows in {r['files']} files (progress while keys were timed: {r['rows_during']})"
          + (f"; error: {r['error']}" if r["error"] else ""))


if __name__ == "__main__":
    main()
