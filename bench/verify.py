"""verify vs reladiff 0.6.0 on the 51-column settlement table, MariaDB -> PostgreSQL, in one run.

    python bench/verify.py [--rows 1000000] [--rounds 2] [--reuse]

Builds ``s3rb_bench_verify.settlement_normal_delivery_detail`` (``bench/settlement_table.py``) and
syncs it to a PostgreSQL database of the same name with our pipeline (a local-directory store);
``--reuse`` keeps both when they hold ``--rows`` rows already. reladiff 0.6.0 is installed by
this script in a venv of its own (``.bench-venvs/reladiff``; never a dependency of the project)
and run as its documentation says for this case: ``-k ID -c '%' --assume-unique-key``. Ours is
``s3rb-tui --run verify`` on every column. Both are child processes, alternated ``--rounds``
times: wall time and peak RSS (``wait4``'s ru_maxrss) of each run, side by side.

Then three differences are seeded — a nullable text column changed in the warehouse (NULL ->
text), one row deleted at the source, one deleted from the warehouse — and each tool runs once
more: ours must report exactly those three keys, each as its kind. The seeds are undone at the
end (the rows saved before and put back). (reladiff, given the NULL -> text change, logs "ERROR -
'<' not supported between instances of 'str' and 'NoneType'", prints no difference and exits 0.)

Targets (issue 16): ours <= 0.5x reladiff's wall time, peak RSS <= 300 MiB, the three keys exact.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent))

import settlement_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DB = "s3rb_bench_verify"
TABLE = settlement_table.TABLE
RELADIFF = "reladiff[mysql,postgresql]==0.6.0"
SEEDS = {"different": 4242, "extra_in_warehouse": 500_001, "missing_in_warehouse": 777_777}  # scaled to --rows below


def _env(store: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
            "DB_HOST": "127.0.0.1", "DB_PORT": "3306", "DB_USER": "root", "DB_PASSWORD": "", "DB_DATABASE": DB,
            "STORE_URL": f"file://{store}", "WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": "127.0.0.1",
            "REDSHIFT_PORT": "5432", "REDSHIFT_USER": "postgres", "REDSHIFT_DATABASE": DB, "BACKUP_BATCH_SIZE": "100000"}


def _mysql():
    return pymysql.connect(host="127.0.0.1", user="root", database=DB, autocommit=True)


def _pg(dbname: str = DB):
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=dbname)
    conn.autocommit = True
    return conn


def _count_mysql() -> int | None:
    try:
        conn = _mysql()
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


def _count_pg() -> int | None:
    try:
        conn = _pg()
    except psycopg2.Error:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT COUNT(*) FROM public."{TABLE}"')
            return int(cur.fetchone()[0])
    except psycopg2.Error:
        return None
    finally:
        conn.close()


def prepare(rows: int, reuse: bool, store: Path) -> None:
    if reuse and _count_mysql() == rows and _count_pg() == rows:
        print(f"reusing {DB}.{TABLE} ({rows:,} rows) in MariaDB and PostgreSQL")
        return
    settlement_table.build(dict(host="127.0.0.1", port=3306, user="root", password=""), DB, rows)
    admin = _pg("postgres")
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        cur.execute(f'CREATE DATABASE "{DB}"')
    admin.close()
    started = time.monotonic()
    sync = subprocess.run([sys.executable, "-m", "s3rb_tui", "--run", "sync", "-t", f"{DB}.{TABLE}"], env=_env(store),
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    if sync.returncode != 0:
        raise SystemExit(f"sync failed: {sync.stderr[-2000:]}")
    print(f"synced to PostgreSQL with s3rb-tui in {time.monotonic() - started:.1f}s")


def reladiff_venv() -> Path:
    venv = REPO / ".bench-venvs" / "reladiff"
    exe = venv / "bin" / "reladiff"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", RELADIFF], check=True)
    return exe


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str, str]:
    """(wall seconds, peak RSS MiB, exit code, stdout, stderr) of one child process."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return wall, usage.ru_maxrss / 1024, proc.returncode, out.read(), err.read()


def run_reladiff(exe: Path) -> tuple[float, float, int, str, str]:
    return timed([str(exe), f"mysql://root@127.0.0.1:3306/{DB}", TABLE, f"postgresql://postgres@127.0.0.1:5432/{DB}", TABLE,
                  "-k", "ID", "-c", "%", "--assume-unique-key"])


def run_ours(store: Path) -> tuple[float, float, int, str, str]:
    return timed([sys.executable, "-m", "s3rb_tui", "--run", "verify", "-t", f"{DB}.{TABLE}", "--json"], env=_env(store))


class Seeds:
    """The three differences, saved first and put back by ``undo``."""

    def __init__(self, rows: int):
        scale = rows / 1_000_000
        self.keys = {kind: max(1, int(k * scale)) for kind, k in SEEDS.items()}

    def apply(self) -> None:
        changed, gone_src, gone_wh = self.keys["different"], self.keys["extra_in_warehouse"], self.keys["missing_in_warehouse"]
        my = _mysql()
        with my.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_saved_row")
            cur.execute(f"CREATE TABLE bench_saved_row AS SELECT * FROM `{TABLE}` WHERE ID = %s", (gone_src,))
            cur.execute(f"DELETE FROM `{TABLE}` WHERE ID = %s", (gone_src,))
        my.close()
        pg = _pg()
        with pg.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.bench_saved_row")
            cur.execute(f'CREATE TABLE public.bench_saved_row AS SELECT * FROM public."{TABLE}" WHERE "ID" IN (%s, %s)', (gone_wh, changed))
            cur.execute(f'DELETE FROM public."{TABLE}" WHERE "ID" = %s', (gone_wh,))
            cur.execute(f'UPDATE public."{TABLE}" SET status_reason = %s WHERE "ID" = %s', ("seeded by bench/verify.py", changed))
        pg.close()

    def undo(self) -> None:
        my = _mysql()
        with my.cursor() as cur:
            cur.execute(f"INSERT IGNORE INTO `{TABLE}` SELECT * FROM bench_saved_row")
            cur.execute("DROP TABLE IF EXISTS bench_saved_row")
        my.close()
        pg = _pg()
        with pg.cursor() as cur:
            cur.execute(f'DELETE FROM public."{TABLE}" WHERE "ID" IN (SELECT "ID" FROM public.bench_saved_row)')
            cur.execute(f'INSERT INTO public."{TABLE}" SELECT * FROM public.bench_saved_row')
            cur.execute("DROP TABLE IF EXISTS public.bench_saved_row")
        pg.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reuse", action="store_true", help="keep the table and its warehouse copy when they have --rows rows")
    a = p.parse_args(argv)
    store = Path(tempfile.gettempdir()) / "s3rb_bench_verify_store"
    prepare(a.rows, a.reuse, store)
    exe = reladiff_venv()
    figures: dict[str, list[tuple[float, float]]] = {"reladiff": [], "ours": []}
    for i in range(a.rounds):
        for name, run in (("reladiff", lambda: run_reladiff(exe)), ("ours", lambda: run_ours(store))):
            wall, rss, code, out, err = run()
            ok = code == 0 and (name == "reladiff" and not out.strip() or name == "ours" and json.loads(out)["ok"])
            print(f"round {i + 1} {name:8s} {wall:6.1f} s  {rss:6.0f} MiB peak RSS  exit {code}{'' if ok else '  (NOT equal: ' + (out + err)[-300:] + ')'}")
            figures[name].append((wall, rss))
    med = {n: (statistics.median(w for w, _ in f), max(r for _, r in f)) for n, f in figures.items()}
    ratio = med["ours"][0] / med["reladiff"][0]
    print(f"\nno differences, {a.rows:,} rows x 51 columns, median of {a.rounds}:")
    print(f"  reladiff 0.6.0  {med['reladiff'][0]:6.1f} s   {med['reladiff'][1]:5.0f} MiB")
    print(f"  s3rb-tui verify {med['ours'][0]:6.1f} s   {med['ours'][1]:5.0f} MiB   ({ratio:.2f}x reladiff's time; target <= 0.5x, <= 300 MiB)")

    seeds = Seeds(a.rows)
    seeds.apply()
    try:
        wall, rss, code, out, err = run_ours(store)
        [doc] = json.loads(out)["tables"]
        found = {kind: doc[kind] for kind in ("missing_in_warehouse", "extra_in_warehouse", "different")}
        expected = {kind: [[k]] for kind, k in seeds.keys.items()}
        exact = found == expected
        print(f"\nseeded (text NULL -> value in the warehouse, a source delete, a warehouse delete): ours {wall:.1f} s, {rss:.0f} MiB, "
              f"exit {code}: {json.dumps(found)} {'EXACT' if exact else 'WRONG, expected ' + json.dumps(expected)}"
              f"; columns {doc['different_columns']}")
        rwall, rrss, rcode, rout, rerr = run_reladiff(exe)
        errors = [ln.strip()[:200] for ln in rerr.splitlines() if " ERROR " in ln or "Traceback" in ln]
        print(f"seeded: reladiff {rwall:.1f} s, {rrss:.0f} MiB, exit {rcode}: {len(rout.splitlines())} diff lines"
              + (f"; it logged: {' | '.join(errors)}" if errors else ""))
    finally:
        seeds.undo()
    met = ratio <= 0.5 and med["ours"][1] <= 300 and exact
    print("\ntargets " + ("met" if met else "NOT met"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
