"""The embedded demo workspace: a SQLite source, a local-directory store and a DuckDB warehouse.

``prepare_demo()`` builds the workspace once under the user data directory (or ``$S3RB_DEMO_DIR``)
and returns the settings variables that point the ordinary engine at it; later calls reuse it,
``reset=True`` rebuilds it. Building is safe when several demo processes start at once: one file
lock serialises them, the workspace is built in a temporary directory next to it and renamed into
place only when complete (``demo.json`` is written last), so a reader sees a whole workspace or none.

``start_traffic(env)`` plays a live source: every few seconds it creates parcels, moves parcels to
their next status (new rows) and updates statuses in place, bumping ``update_at``, so incremental
syncs, lag and the latest-status views visibly move; every ``DELETE_EVERY`` ticks a claim is
withdrawn (its row deleted), which no incremental sync sees: ``--run verify`` reports it as extra in
the warehouse, and repair (R in the console) or ``detect_deletes`` removes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

from s3rb_tui import demo_data
from s3rb_tui.demo_data import CLAIMS, DELIVERY, PARTNER_INFO

FORMAT = 1  # bump when the workspace layout or data changes: older workspaces are rebuilt
DEFAULT_ROWS = 200_000
SCHEMA = "settlement"
MARKER = "demo.json"
BATCH_SIZE = 25_000
#: the demo's DuckDB holds at most this much (DUCKDB_MEMORY_LIMIT). The load alone after a backup
#: (``sync --redshift-only`` on the demo workspace, 200,000 delivery rows, one run each, 2 cores):
#: peak RSS 343 MiB with DuckDB's own limit, 280 MiB at 128MB, 235 MiB at 64MB, in 6.5 / 5.7 / 6.0 s.
#: The demo runs on laptops beside everything else; the load is the peak of its full sync
DUCKDB_MEMORY_LIMIT = "64MB"
TRAFFIC_SECONDS = 3.0
#: one claim withdrawn (deleted) every this many ticks: a few deletes a minute, far below repair's
#: max_delete_ratio of the claims table
DELETE_EVERY = 2

TABLE_CONFIG = f"""\
# Per-table settings of the s3rb-tui demo (see engine/core/table_settings.py).

[tables."{SCHEMA}.{DELIVERY}"]
cursor_column = "update_at"
key_columns = ["ID"]
load_mode = "merge"
latest_key = ["ant_parcel_no"]
status_column = "latest_status"
distkey = "ant_parcel_no"
sortkey = ["create_at", "billing_num"]

[tables."{SCHEMA}.{CLAIMS}"]
cursor_column = "update_at"
key_columns = ["ID"]
load_mode = "merge"
latest_key = ["claim_num"]
status_column = "claim_status"
distkey = "ant_parcel_no"
sortkey = ["create_at"]

[tables."{SCHEMA}.{PARTNER_INFO}"]
cursor_column = "update_at"
key_columns = ["ID"]
load_mode = "merge"
latest_key = ["partner_code"]
sortkey = ["ID"]
"""


def demo_dir() -> Path:
    """``$S3RB_DEMO_DIR``, else ``<user data dir>/s3rb-tui/demo``."""
    override = os.environ.get("S3RB_DEMO_DIR", "").strip()
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("s3rb-tui")) / "demo"


def demo_rows() -> int:
    raw = os.environ.get("S3RB_DEMO_ROWS", "").strip()
    if not raw:
        return DEFAULT_ROWS
    try:
        rows = int(raw)
    except ValueError:
        raise ValueError(f"S3RB_DEMO_ROWS={raw!r} is not a whole number") from None
    if rows < 10:
        raise ValueError(f"S3RB_DEMO_ROWS={rows} must be at least 10")
    return rows


def demo_env(root: Path) -> dict[str, str]:
    """The settings variables for the workspace at ``root``."""
    return {
        "DB_DIALECT": "sqlite",
        "DB_SQLITE_PATH": str(root / "source.sqlite"),
        "DB_DATABASE": SCHEMA,
        "STORE_URL": (root / "store").as_uri(),
        "S3_INCREMENTAL_PATH": "incremental/",
        "WAREHOUSE_DIALECT": "duckdb",
        "DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "S3RB_CONFIG": str(root / "s3rb.toml"),
        "BACKUP_BATCH_SIZE": str(BATCH_SIZE),
        "DUCKDB_MEMORY_LIMIT": DUCKDB_MEMORY_LIMIT,
    }


def read_marker(root: Path) -> dict | None:
    """What the workspace at ``root`` was built with, or None if it is missing or incomplete."""
    try:
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT or not (root / "source.sqlite").is_file():
        return None
    return marker


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An OS file lock held for the block (released by the OS if the process dies)."""
    with open(lock_path, "a+b") as f:
        if os.name == "nt":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after ~10 s: keep waiting
                    continue
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _build(target: Path, rows: int) -> dict:
    target.mkdir(parents=True)
    (target / "store").mkdir()
    (target / "s3rb.toml").write_text(TABLE_CONFIG, encoding="utf-8")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    anchor = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    started = time.perf_counter()
    counts = demo_data.generate(target / "source.sqlite", rows, anchor)
    marker = {
        "format": FORMAT,
        "seed": demo_data.SEED,
        "anchor": anchor.isoformat(sep=" "),
        "rows": counts,
        "build_seconds": round(time.perf_counter() - started, 2),
        "source_bytes": (target / "source.sqlite").stat().st_size,
        "built_at": now.isoformat(sep=" ", timespec="seconds"),
    }
    (target / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return marker


def prepare_demo(reset: bool = False, on_build: Callable[[Path, int], None] | None = None) -> dict[str, str]:
    """Build the demo workspace if it is missing, incomplete or ``reset``; return its settings.
    ``on_build(root, rows)`` is called just before a build starts (a front end can say "building…")."""
    root = demo_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(root.parent / f".{root.name}.lock"):
        # Under the lock nobody else is building: leftovers of a killed build can go.
        for leftover in root.parent.glob(f".{root.name}.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        if reset or read_marker(root) is None:
            rows = demo_rows()
            if on_build is not None:
                on_build(root, rows)
            tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            fresh = root.parent / f".{root.name}.tmp-build-{tag}"
            try:
                _build(fresh, rows)
            except BaseException:
                shutil.rmtree(fresh, ignore_errors=True)
                raise
            old = root.parent / f".{root.name}.tmp-old-{tag}"
            if root.exists():
                os.replace(root, old)
            os.replace(fresh, root)
            shutil.rmtree(old, ignore_errors=True)
    return demo_env(root)


# --- live traffic ----------------------------------------------------------------------------

class Traffic:
    """A daemon thread writing to the demo source every ``interval`` seconds, with its own
    connection. ``stop()`` ends it; ``ticks``/``inserted``/``updated``/``deleted`` say what it did
(``deleted_ids``: the claims withdrawn)."""

    def __init__(self, sqlite_path: Path, interval: float = TRAFFIC_SECONDS, seed: int | None = None):
        self.path = sqlite_path
        self.interval = interval
        self.rng = random.Random(seed)
        self.ticks = self.inserted = self.updated = 0
        self.deleted_ids: list[int] = []
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3rb-demo-traffic", daemon=True)

    def start(self) -> "Traffic":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def deleted(self) -> int:
        return len(self.deleted_ids)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            while not self._stop.is_set():
                try:
                    self.tick(db)
                    self.last_error = None
                except Exception as e:  # e.g. rows edited by hand or the file replaced: keep the thread, say why
                    self.last_error = f"{type(e).__name__}: {e}"
                self._stop.wait(self.interval)
        finally:
            db.close()

    def tick(self, db: sqlite3.Connection) -> None:
        """One burst of changes in one transaction. The timestamp is taken after the write lock is
        held, so commit order equals ``update_at`` order and no extraction can skip past a change."""
        db.execute("BEGIN IMMEDIATE")
        try:
            now = demo_data.stamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
            inserted, updated = self._deliveries(db, now)
            claims_in, claims_up = self._claims(db, now)
            withdrawn = self._withdraw_claim(db) if (self.ticks + 1) % DELETE_EVERY == 0 else None
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.ticks += 1
        self.inserted += inserted + claims_in
        self.updated += updated + claims_up
        if withdrawn is not None:
            self.deleted_ids.append(withdrawn)

    def _deliveries(self, db: sqlite3.Connection, now: str) -> tuple[int, int]:
        names = [c for c, _ in demo_data.DELIVERY_COLUMNS]
        status_i, id_i = names.index("latest_status"), names.index("ID")
        table = f'"{DELIVERY}"'
        next_id = int(db.execute(f"SELECT COALESCE(MAX(ID), 0) + 1 FROM {table}").fetchone()[0])
        top = next_id - 1
        sample = db.execute(
            f"SELECT * FROM {table} WHERE ID >= ? AND latest_status NOT IN ('DELIVERED', 'RETURNED') LIMIT 40",
            (self.rng.randint(1, max(top, 1)),),
        ).fetchall()
        inserted = updated = 0
        marks = ", ".join("?" for _ in names)
        for row in sample:
            latest = db.execute(f"SELECT MAX(ID) FROM {table} WHERE ant_parcel_no = ?", (row[names.index("ant_parcel_no")],)).fetchone()[0]
            if latest != row[id_i]:
                continue  # not the parcel's newest status row
            following = demo_data.STATUSES[demo_data.STATUSES.index(row[status_i]) + 1]
            if self.rng.random() < 0.7:  # the next scan: a new status row for the parcel
                new = list(row)
                new[id_i] = next_id
                new[status_i] = following
                new[names.index("create_at")] = new[names.index("update_at")] = now
                if following == "DELIVERED":
                    new[names.index("delivered_time")] = now
                db.execute(f"INSERT INTO {table} VALUES ({marks})", new)
                next_id += 1
                inserted += 1
            else:  # a status corrected in place
                db.execute(f"UPDATE {table} SET latest_status = ?, update_at = ? WHERE ID = ?", (following, now, row[id_i]))
                updated += 1
        for _ in range(self.rng.randint(5, 25)):  # new parcels
            parcel = 10_000_000 + next_id
            db.execute(
                f"INSERT INTO {table} (ID, billing_num, partner_id, customer_id, carrier_id, ant_parcel_no, tracking_num, "
                "parcel_scan_time, service_type, package_type, piece_count, actual_weight, base_price, net_price, currency, "
                "latest_status, is_cod, is_insured, is_residential, is_billed, create_at, update_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'STANDARD', 'BOX', 1, ?, ?, ?, 'AUD', 'CREATED', 0, 0, 0, 0, ?, ?)",
                (next_id, f"BL{parcel:013d}", self.rng.randint(1, demo_data.PARTNERS), self.rng.randint(100_000, 125_000),
                 self.rng.randint(1, 12), demo_data.parcel_no(parcel), f"TRK{parcel:010d}", now,
                 self.rng.randint(50, 30_000) / 1000.0, self.rng.randint(45_000, 400_000) / 10000.0,
                 self.rng.randint(60_000, 600_000) / 10000.0, now, now),
            )
            next_id += 1
            inserted += 1
        billed = db.execute(
            f"UPDATE {table} SET is_billed = 1, invoice_num = printf('INV%08d', ID), update_at = ? "
            f"WHERE ID IN (SELECT ID FROM {table} WHERE latest_status = 'DELIVERED' AND is_billed = 0 AND ID >= ? LIMIT 5)",
            (now, self.rng.randint(1, max(top, 1))),
        ).rowcount
        return inserted, updated + max(billed, 0)

    def _claims(self, db: sqlite3.Connection, now: str) -> tuple[int, int]:
        table = f'"{CLAIMS}"'
        next_id = int(db.execute(f"SELECT COALESCE(MAX(ID), 0) + 1 FROM {table}").fetchone()[0])
        inserted = 0
        if self.rng.random() < 0.5:
            parcel = self.rng.randint(0, 40_000)
            db.execute(
                f"INSERT INTO {table} (ID, claim_num, ant_parcel_no, partner_id, customer_id, claim_type, claim_status, "
                "claim_amount, currency, is_escalated, submitted_at, create_at, update_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'OPEN', ?, 'AUD', 0, ?, ?, ?)",
                (next_id, f"CLM{next_id:08d}", demo_data.parcel_no(parcel), self.rng.randint(1, demo_data.PARTNERS),
                 self.rng.randint(100_000, 125_000), self.rng.choice(("DAMAGE", "LOSS", "DELAY")),
                 self.rng.randint(5_0000, 500_0000) / 10000.0, now, now, now),
            )
            inserted = 1
        updated = db.execute(
            f"UPDATE {table} SET claim_status = CASE claim_status WHEN 'OPEN' THEN 'UNDER_REVIEW' ELSE 'APPROVED' END, "
            f"approved_amount = CASE claim_status WHEN 'UNDER_REVIEW' THEN claim_amount END, update_at = ? "
            f"WHERE ID IN (SELECT ID FROM {table} WHERE claim_status IN ('OPEN', 'UNDER_REVIEW') AND ID >= ? LIMIT 2)",
            (now, self.rng.randint(1, max(next_id - 1, 1))),
        ).rowcount
        return inserted, max(updated, 0)


    def _withdraw_claim(self, db: sqlite3.Connection) -> int | None:
        """One open claim withdrawn: its row deleted (the ID, or None when no claim is open)."""
        table = f'"{CLAIMS}"'
        top = int(db.execute(f"SELECT COALESCE(MAX(ID), 0) FROM {table}").fetchone()[0])
        pick = f"SELECT ID FROM {table} WHERE claim_status IN ('OPEN', 'UNDER_REVIEW') AND ID >= ? ORDER BY ID LIMIT 1"
        row = db.execute(pick, (self.rng.randint(1, max(top, 1)),)).fetchone() or db.execute(pick, (1,)).fetchone()
        if row is None:
            return None
        db.execute(f"DELETE FROM {table} WHERE ID = ?", (row[0],))
        return int(row[0])


def start_traffic(env: dict[str, str], interval: float | None = None) -> Traffic:
    """Start live traffic on the demo source named by ``env`` (from ``prepare_demo``)."""
    if interval is None:
        raw = os.environ.get("S3RB_DEMO_TRAFFIC_SECONDS", "").strip()
        interval = float(raw) if raw else TRAFFIC_SECONDS
    return Traffic(Path(env["DB_SQLITE_PATH"]), interval=interval).start()
