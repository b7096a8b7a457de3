"""The embedded demo: the workspace is built once and reused, ``reset`` rebuilds it, concurrent
builders produce one whole workspace, the data has the shape the views need, live traffic moves
the source, and ``--demo --run sync`` carries the table end to end into DuckDB (no servers).

``S3RB_DEMO_DIR`` points every test at its own directory; ``S3RB_DEMO_ROWS`` keeps the data small.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from s3rb_tui import demo_data
from s3rb_tui.demo import prepare_demo, read_marker, start_traffic
from s3rb_tui.engine.stores.layout import lock_key
from s3rb_tui.engine.core.table_names import TableRef
from tests.support.backups import wait_for_next_local_second
from tests.support.waiting import wait_until

DELIVERY = "settlement_normal_delivery_detail"
TABLE = f"settlement.{DELIVERY}"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data" / "demo"
    monkeypatch.setenv("S3RB_DEMO_DIR", str(root))
    monkeypatch.setenv("S3RB_DEMO_ROWS", "3000")
    return root


def _count(sqlite_path: str | Path, table: str = DELIVERY) -> int:
    with sqlite3.connect(sqlite_path) as db:
        return int(db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def _leftovers(root: Path) -> list[str]:
    if not root.parent.is_dir():
        return []
    return sorted(p.name for p in root.parent.iterdir() if ".tmp-" in p.name)


def test_workspace_is_built_once_and_reused_and_reset_rebuilds(demo_root: Path):
    builds: list[tuple[Path, int]] = []
    env = prepare_demo(on_build=lambda root, rows: builds.append((root, rows)))
    source = Path(env["DB_SQLITE_PATH"])
    assert source.parent == demo_root
    assert builds == [(demo_root, 3000)]
    assert env["DB_DIALECT"] == "sqlite" and env["DB_DATABASE"] == "settlement"
    assert env["STORE_URL"] == (demo_root / "store").as_uri() and (demo_root / "store").is_dir()
    assert env["WAREHOUSE_DIALECT"] == "duckdb" and env["DUCKDB_PATH"] == str(demo_root / "warehouse.duckdb")
    assert "load_mode" in Path(env["S3RB_CONFIG"]).read_text()
    assert _count(source) == 3000
    first = source.stat()

    assert prepare_demo(on_build=lambda root, rows: builds.append((root, rows))) == env
    assert len(builds) == 1  # reused, not rebuilt
    again = source.stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    with sqlite3.connect(source) as db:  # a change that a rebuild must undo
        db.execute(f'DELETE FROM "{DELIVERY}" WHERE ID <= 100')
    assert prepare_demo(reset=True) == env
    assert source.stat().st_ino != first.st_ino
    assert _count(source) == 3000
    assert _leftovers(demo_root) == []


def test_an_incomplete_workspace_is_rebuilt(demo_root: Path):
    env = prepare_demo()
    (demo_root / "demo.json").unlink()  # as if a build had been killed before its marker
    prepare_demo()
    assert read_marker(demo_root) is not None
    assert _count(env["DB_SQLITE_PATH"]) == 3000


def test_two_processes_preparing_at_once_make_one_workspace(demo_root: Path):
    script = (
        "import os; from s3rb_tui.demo import prepare_demo; env = prepare_demo(); "
        "print(os.stat(env['DB_SQLITE_PATH']).st_ino)"
    )
    env = {**os.environ, "S3RB_DEMO_ROWS": "20000"}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    inodes = {out.strip() for out, _ in results}
    final = demo_root / "source.sqlite"
    assert inodes == {str(final.stat().st_ino)}  # the second process reused the first one's build
    with sqlite3.connect(final) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert read_marker(demo_root)["rows"][DELIVERY] == _count(final) == 20000
    assert _leftovers(demo_root) == []


def test_a_build_killed_midway_leaves_no_broken_workspace(demo_root: Path):
    script = "from s3rb_tui.demo import prepare_demo; prepare_demo()"
    env = {**os.environ, "S3RB_DEMO_ROWS": "150000"}
    builder = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO_ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _leftovers(demo_root) or builder.poll() is not None, timeout=120, what="a build in progress")
        assert builder.poll() is None, "the build finished before it could be interrupted"
    finally:
        builder.kill()
        builder.wait(timeout=60)
    assert not demo_root.exists()  # nothing half-built under the real name
    env = prepare_demo()  # the killed builder's lock died with it; its leftovers are cleared
    assert read_marker(demo_root) is not None and _count(env["DB_SQLITE_PATH"]) == 3000
    assert _leftovers(demo_root) == []


def test_demo_data_has_the_shape_the_views_need(demo_root: Path):
    env = prepare_demo()
    with sqlite3.connect(env["DB_SQLITE_PATH"]) as db:
        columns = [r[1] for r in db.execute(f'PRAGMA table_info("{DELIVERY}")')]
        rows, parcels = db.execute(f'SELECT COUNT(*), COUNT(DISTINCT ant_parcel_no) FROM "{DELIVERY}"').fetchone()
        statuses = {r[0] for r in db.execute(f'SELECT DISTINCT latest_status FROM "{DELIVERY}"')}
        biggest_tie = db.execute(f'SELECT MAX(n) FROM (SELECT COUNT(*) n FROM "{DELIVERY}" GROUP BY update_at)').fetchone()[0]
        latest = db.execute(f'SELECT MAX(update_at) FROM "{DELIVERY}"').fetchone()[0]
        counts = {t: _count(env["DB_SQLITE_PATH"], t) for t in demo_data.TABLES}
    assert len(columns) == 51 and {"billing_num", "ant_parcel_no", "net_price", "create_at", "update_at"} <= set(columns)
    assert rows / parcels > 2  # several status rows per parcel
    assert statuses == set(demo_data.STATUSES)
    assert biggest_tie > 1  # rows share one cursor value
    assert dt.datetime.fromisoformat(latest) < dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert counts == {DELIVERY: 3000, "settlement_claim_detail": 300, "partner_info": 200}


def test_generation_is_deterministic(tmp_path: Path):
    anchor = dt.datetime(2025, 7, 28, 12, 0)
    dumps = []
    for name in ("a.sqlite", "b.sqlite"):
        demo_data.generate(tmp_path / name, 2000, anchor)
        with sqlite3.connect(tmp_path / name) as db:
            dumps.append([db.execute(f'SELECT * FROM "{t}" ORDER BY ID').fetchall() for t in demo_data.TABLES])
    assert dumps[0] == dumps[1]


def test_traffic_inserts_and_updates_until_stopped(demo_root: Path):
    env = prepare_demo()
    path = env["DB_SQLITE_PATH"]
    before = _count(path)
    with sqlite3.connect(path) as db:
        top_stamp = db.execute(f'SELECT MAX(update_at) FROM "{DELIVERY}"').fetchone()[0]
    traffic = start_traffic(env, interval=0.05)
    try:
        wait_until(lambda: traffic.ticks >= 3, timeout=60, what="three traffic ticks")
    finally:
        traffic.stop()
    assert not traffic.running and traffic.last_error is None
    assert traffic.inserted > 0 and traffic.updated > 0
    assert traffic.deleted == traffic.ticks // 2 and traffic.deleted_ids  # a claim withdrawn every second tick
    with sqlite3.connect(path) as db:
        assert db.execute(f'SELECT COUNT(*) FROM "{demo_data.CLAIMS}" WHERE ID IN ({", ".join(map(str, traffic.deleted_ids))})').fetchone()[0] == 0
        changed = db.execute(f'SELECT COUNT(*) FROM "{DELIVERY}" WHERE update_at > ?', (top_stamp,)).fetchone()[0]
        advanced = db.execute(
            f'SELECT COUNT(*) FROM "{DELIVERY}" WHERE ID > ? AND latest_status != ?', (before, "CREATED")
        ).fetchone()[0]
    grown = _count(path) - before
    assert grown > 0
    assert changed > grown  # every new row, and the rows changed in place, carry a fresh update_at
    assert advanced > 0  # existing parcels moved on to their next status


# --- end to end through the CLI: SQLite -> local store -> DuckDB ------------------------------

def _duckdb_counts(path: str) -> tuple[int, int]:
    import duckdb

    with duckdb.connect(path, read_only=True) as db:
        return db.execute(f'SELECT COUNT(*), COUNT(DISTINCT "ID") FROM public."{DELIVERY}"').fetchone()


def test_demo_sync_end_to_end_then_incrementally(demo_root: Path, run_cli):
    env = {"S3RB_DEMO_DIR": str(demo_root), "S3RB_DEMO_ROWS": "3000"}
    done = run_cli("--demo", "--run", "sync", "-t", TABLE, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    settings = prepare_demo()
    assert _duckdb_counts(settings["DUCKDB_PATH"]) == (3000, 3000)

    # The source moves (new status rows, statuses changed in place); the next sync catches up.
    traffic = start_traffic(settings, interval=0.05)
    try:
        wait_until(lambda: traffic.ticks >= 2, timeout=60, what="two traffic ticks")
    finally:
        traffic.stop()
    wait_for_next_local_second()  # update_at is a DATETIME (whole seconds): a run takes a second once it is over
    done = run_cli("--demo", "--run", "sync", "-t", TABLE, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    total = _count(settings["DB_SQLITE_PATH"])
    assert total > 3000
    assert _duckdb_counts(settings["DUCKDB_PATH"]) == (total, total)

    shown = run_cli("--demo", "--run", "watermark", "get", "-t", TABLE, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["cumulative"]["extracted"] >= total

    # --demo-reset: a fresh source, an empty store (no watermarks) and no warehouse yet.
    inode = Path(settings["DB_SQLITE_PATH"]).stat().st_ino
    listed = run_cli("--demo-reset", "--run", "watermark", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert json.loads(listed.stdout) == []
    assert Path(settings["DB_SQLITE_PATH"]).stat().st_ino != inode
    assert _count(settings["DB_SQLITE_PATH"]) == 3000 and not Path(settings["DUCKDB_PATH"]).exists()


def test_two_demo_syncs_of_one_table_at_once(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("S3RB_DEMO_ROWS", "30000")  # a first sync long enough to start a second one during it
    env = {**os.environ, "S3RB_DEMO_DIR": str(demo_root)}
    settings = prepare_demo()  # built once, before the race
    lock = Path(settings["STORE_URL"].removeprefix("file://")) / lock_key(TableRef("settlement", DELIVERY))
    command = [sys.executable, "-m", "s3rb_tui", "--demo", "--run", "sync", "-t", TABLE]

    def start() -> subprocess.Popen:
        return subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start()
    try:
        wait_until(lambda: lock.exists() or first.poll() is not None, timeout=120, what="the first sync holds the table lock")
        assert first.poll() is None, "the first sync finished before a second one could start"
        second = start()
        out, err = second.communicate(timeout=300)
    finally:
        first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_out + first_err
    assert second.returncode == 1, out + err
    assert "locked by" in out and f"pid {first.pid}" in out

    expected = _count(settings["DB_SQLITE_PATH"])
    assert _duckdb_counts(settings["DUCKDB_PATH"]) == (expected, expected)
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _duckdb_counts(settings["DUCKDB_PATH"]) == (expected, expected)  # nothing loaded twice
