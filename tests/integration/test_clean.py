"""s3clean and clean against the moto S3 HTTP endpoint (real boto3 over HTTP, nothing patched)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.ops.clean import execute_clean, plan_clean
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import data_key
from s3rb_tui.engine.stores import open_store
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.locks import TableLock
from s3rb_tui.engine.state.watermarks import Counts, Watermark, WatermarkStore
from s3rb_tui.settings import build_settings
from tests.support.terminal import run_in_terminal

pytestmark = pytest.mark.integration

INC = "incremental/"
AB = TableRef("a", "b")
ABC = TableRef("a", "bc")
RUN = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)


def keys_of(store, prefix="") -> set[str]:
    return {o.key for o in store.list(prefix)}


@pytest.fixture
def seeded(make_env, s3_bucket):
    """a.b: 6 files in two runs; a.bc: 2 files; a watermark doc and a stray text file. Returns (env, store)."""
    env = make_env()
    store = open_store(build_settings(env))
    for batch in range(1, 5):
        store.put(data_key(INC, AB, RUN, batch), b"p" * 100)
    for batch in range(1, 3):
        store.put(data_key(INC, AB, RUN + dt.timedelta(days=1), batch), b"p" * 10)
    for batch in range(1, 3):
        store.put(data_key(INC, ABC, RUN, batch), b"q" * 1000)
    store.put("incremental/a.b/README.txt", b"not data")
    return env, store


def mark_loaded(store, table: TableRef, keys: list[str], written: int) -> None:
    """The watermark records ``keys`` as loaded by the latest load session (no warehouse configured)."""
    WatermarkStore(store).write(Watermark(
        table=table.full_name, redshift_status="success", files_written_total=written,
        files_loaded_total=len(keys), session_files_loaded=keys, cumulative=Counts(10, 5),
    ), None)


def test_clean_deletes_exactly_the_plan_and_nothing_of_other_tables(seeded, run_cli):
    env, store = seeded
    before = keys_of(store)
    dry = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)["plans"][0]["keys"]
    assert keys_of(store) == before  # a dry run deletes nothing
    assert len(planned) == 6 and all(k.startswith("incremental/a.b/") and k.endswith(".parquet") for k in planned)

    done = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--force", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["plans"][0]["keys"] == planned
    assert doc["deleted"] == 6 and doc["bytes_freed"] == 4 * 100 + 2 * 10
    assert keys_of(store) - keys_of(store, "runs/") == before - set(planned)
    assert len(keys_of(store, "runs/")) == 1  # the clean's own run record (issue 15), and nothing else is new
    assert {k for k in keys_of(store) if k.startswith("incremental/a.bc/")} == {data_key(INC, ABC, RUN, 1), data_key(INC, ABC, RUN, 2)}
    assert "incremental/a.b/README.txt" in keys_of(store)


def test_human_output_reports_plan_and_bytes_freed(seeded, run_cli):
    env, store = seeded
    done = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--pattern", "*_batch_000[1-2].parquet", "--force", env=env)
    assert done.returncode == 0, done.stderr
    assert "a.b: 4 file(s), 220 B to delete" in done.stdout
    assert "deleted 4 of 4 file(s), 220 B freed" in done.stdout
    assert len([k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")]) == 2


def test_unloaded_files_are_kept_unless_include_unloaded(seeded, run_cli):
    env, store = seeded
    loaded = [data_key(INC, AB, RUN, 1), data_key(INC, AB, RUN, 2)]
    mark_loaded(store, AB, loaded, written=6)
    done = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--force", "--json", env=env)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["plans"][0]
    assert sorted(plan["keys"]) == sorted(loaded)
    assert plan["skipped_unloaded"] == 4 and plan["loaded"] == 2
    remaining = {k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")}
    assert len(remaining) == 4 and not remaining & set(loaded)

    everything = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--include-unloaded", "--force", env=env)
    assert everything.returncode == 0, everything.stderr
    assert not {k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")}


def test_list_reports_files_sizes_days_and_load_status(seeded, run_cli):
    env, store = seeded
    mark_loaded(store, AB, [data_key(INC, AB, RUN, 1)], written=6)
    done = run_cli("--run", "s3clean", "list", "--json", env=env)
    assert done.returncode == 0, done.stderr
    tables = {t["table"]: t for t in json.loads(done.stdout)["tables"]}
    assert set(tables) == {"a.b", "a.bc"}
    assert (tables["a.b"]["files"], tables["a.b"]["bytes"], tables["a.b"]["loaded"], tables["a.b"]["unloaded"]) == (6, 420, 1, 5)
    assert tables["a.b"]["by_day"] == {"2024-05-01": {"files": 4, "bytes": 400}, "2024-05-02": {"files": 2, "bytes": 20}}
    assert tables["a.bc"]["loaded"] is None  # never loaded anywhere: no load status
    human = run_cli("--run", "s3clean", "list", "-t", "a.b", env=env)
    assert human.returncode == 0 and "420 B" in human.stdout and "2024-05-01 .. 2024-05-02" in human.stdout


def test_without_a_terminal_and_without_force_nothing_is_deleted(seeded, run_cli):
    env, store = seeded
    before = keys_of(store)
    done = run_cli("--run", "s3clean", "clean", "-t", "a.b", env=env)
    assert done.returncode == 2
    assert "--force" in done.stderr and "nothing deleted" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert keys_of(store) == before


@pytest.mark.parametrize("args, message", [
    (("s3clean", "clean", "-t", "a.b", "--older-than", "7x", "--force"), "--older-than"),
    (("s3clean", "clean", "-t", "a.b", "--older-than", "0d", "--force"), "more than zero"),
    (("s3clean", "clean", "-t", "a.b", "--pattern", "[abc", "--force"), "unclosed"),
    (("s3clean", "clean", "-t", "a.b", "--pattern", "../a.bc/*", "--force"), ".."),
    (("s3clean", "clean", "--force"), "exactly one -t"),
    (("s3clean", "clean-all", "--force"), "--older-than"),
    (("s3clean", "clean", "-t", "a.b;drop", "--force"), "invalid"),
    (("clean", "--prefix", "/", "--days", "1", "--confirm"), "whole bucket"),
    (("clean", "--prefix", "", "--days", "1", "--confirm"), "whole bucket"),
    (("clean", "--prefix", "watermark/", "--days", "0", "--confirm"), "watermark"),
    (("clean", "--prefix", "incremental/", "--days", "-3", "--confirm"), "negative"),
])
def test_bad_input_exits_2_and_deletes_nothing(seeded, run_cli, args, message):
    env, store = seeded
    before = keys_of(store)
    done = run_cli("--run", *args, env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert keys_of(store) == before


def test_more_than_1000_keys_are_deleted_in_chunks(make_env, s3_bucket):
    store = open_store(build_settings(make_env()))
    keys = [data_key(INC, AB, RUN, b) for b in range(1, 1206)]
    for k in keys:
        store.put(k, b"")
    plan = plan_clean(store, INC, AB, loaded_keys=None)
    assert len(plan.files) == 1205
    events = []
    result = execute_clean(store, plan, JobContext("clean", sink=events.append))
    assert result.ok and result.deleted == 1205
    assert [e.files for e in events if isinstance(e, Progress)] == [1000, 1205]
    assert not keys_of(store, "incremental/a.b/")


def test_a_denied_key_is_reported_and_the_rest_deleted(seeded, run_cli, s3_client, s3_bucket):
    env, store = seeded
    denied = data_key(INC, AB, RUN, 3)
    s3_client.put_bucket_policy(Bucket=s3_bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                       "Resource": f"arn:aws:s3:::{s3_bucket}/{denied}"}],
    }))
    done = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--force", env=env)
    assert done.returncode == 1, done.stderr
    assert f"could not delete {denied}: AccessDenied" in done.stdout
    assert "deleted 5 of 6 file(s)" in done.stdout
    assert {k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")} == {denied}


def test_a_table_locked_by_a_running_run_keeps_its_files(seeded, run_cli):
    """A backup of a.b holds its lock (files written, the watermark not yet committed): a clean
    run meanwhile plans none of a.b's files, says who holds the table before anything is asked,
    and exits 1; once the backup is done, the same clean deletes them."""
    env, store = seeded
    before = keys_of(store)
    with TableLock(store, AB, purpose="backup (intra-table)") as backup:
        done = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--include-unloaded", "--force", env=env)
        assert done.returncode == 1, done.stderr
        assert "kept: 6 file(s) (420 B): the table is locked by backup (intra-table) on host" in done.stdout
        assert f"pid {os.getpid()}" in done.stdout
        assert "nothing to delete now: 1 table(s) locked by another run" in done.stdout
        assert keys_of(store) == before | {backup.key}  # not even a run record: nothing ran
        dry = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--dry-run", "--json", env=env)
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["plans"][0]["locked"]["a.b"]["files"] == 6
    after = run_cli("--run", "s3clean", "clean", "-t", "a.b", "--include-unloaded", "--force", env=env)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "deleted 6 of 6 file(s)" in after.stdout
    assert not keys_of(store, "watermark/locks/")  # the clean's own lock is gone with it


def test_a_table_locked_after_the_plan_keeps_its_files(seeded):
    """The plan saw a.b free; a backup took it before the deletion: execution finds the lock and
    deletes none of a.b's files, each reported with the holder."""
    env, store = seeded
    plan = plan_clean(store, INC, AB, include_unloaded=True, loaded_keys=None)
    assert len(plan.files) == 6 and not plan.locked
    with TableLock(store, AB, purpose="backup (intra-table)"):
        result = execute_clean(store, plan, JobContext("s3clean clean"))
    assert result.deleted == 0 and not result.ok
    assert {e.code for e in result.errors} == {"Locked"} and len(result.errors) == 6
    assert "a.b is locked by backup (intra-table) on host" in result.errors[0].message
    assert len([k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")]) == 6


def test_retention_clean_skips_a_locked_table_and_cleans_the_others(seeded, run_cli, s3_bucket):
    env, store = seeded
    with TableLock(store, AB, purpose="load"):
        done = run_cli("--run", "clean", "--bucket", s3_bucket, "--prefix", "incremental/", "--days", "0",
                       "--confirm", "--force", "--json", env=env)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["result"]["deleted"] == 2 and not doc["result"]["errors"]  # both of a.bc's (no load status known), none of a.b's
    assert doc["plan"]["locked"]["a.b"]["files"] == 6 and "load on host" in doc["plan"]["locked"]["a.b"]["holder"]
    assert len([k for k in keys_of(store, "incremental/a.b/") if k.endswith(".parquet")]) == 6
    assert not [k for k in keys_of(store, "incremental/a.bc/") if k.endswith(".parquet")]


def test_retention_clean_is_a_dry_run_without_confirm(seeded, run_cli, s3_bucket):
    env, store = seeded
    mark_loaded(store, ABC, [data_key(INC, ABC, RUN, 1)], written=2)
    before = keys_of(store)
    dry = run_cli("--run", "clean", "--bucket", s3_bucket, "--prefix", "incremental/", "--days", "0", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing deleted" in dry.stdout and keys_of(store) == before
    done = run_cli("--run", "clean", "--bucket", s3_bucket, "--prefix", "incremental/", "--days", "0", "--confirm", "--force", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["result"]["deleted"] == 7  # 6 of a.b (never loaded: no load status) + the loaded file of a.bc
    left = keys_of(store)
    assert data_key(INC, ABC, RUN, 2) in left  # a.bc's unloaded file is kept
    assert "incremental/a.b/README.txt" in left and "watermark/a.bc.json" in left


def test_clean_all_asks_twice_on_a_terminal(make_env, tmp_path):
    # A local-directory store: its files can be aged (S3 sets LastModified itself).
    root = tmp_path / "store"
    env = make_env(STORE_URL=f"file://{root}")
    store = open_store(build_settings(env))
    old = [data_key(INC, t, RUN, b) for t in (AB, ABC) for b in (1, 2)]
    for k in old:
        store.put(k, b"x" * 50)
        when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).timestamp()
        os.utime(root / k, (when, when))
    fresh = data_key(INC, AB, RUN + dt.timedelta(days=400), 1)
    store.put(fresh, b"new")
    args = ["--run", "s3clean", "clean-all", "--older-than", "2d"]
    code, out = run_in_terminal(args, env, b"y\nn\n", tmp_path)
    assert code == 1 and "EVERY" in out and "nothing deleted" in out
    assert keys_of(store, INC) == set(old) | {fresh}
    code, out = run_in_terminal(args, env, b"y\ny\n", tmp_path)
    assert code == 0, out
    assert "deleted 4 of 4 file(s), 200 B freed" in out
    assert keys_of(store, INC) == {fresh}


def test_files_not_in_the_warehouse_load_ledger_are_kept(make_env, mysql_server, mysql_db, pg_db, run_cli):
    from s3rb_tui.engine.ops.backup import run_backup
    from s3rb_tui.engine.ops.load import run_load
    from s3rb_tui.engine.wiring.workspace import Workspace
    from tests.support import mariadb

    def add(ids):
        with mariadb.connect(mysql_server, mysql_db) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
            cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, f"2024-04-01 00:{i // 60:02d}:{i % 60:02d}") for i in ids])

    env = make_env(WAREHOUSE_DIALECT="postgres")
    ws = Workspace(build_settings(env))
    table = ws.table_ref("items")
    try:
        add(range(1, 201))
        assert run_backup(ws, [table], JobContext("backup"), batch_size=100)[0].status == "success"
        [loaded] = run_load(ws, [table], JobContext("load"))
        assert loaded.ok, loaded.error
        loaded_keys = {o.key for o in ws.store.list(f"{INC}{table.full_name}/")}
        add(range(201, 251))
        assert run_backup(ws, [table], JobContext("backup"), batch_size=100)[0].status == "success"
        waiting = {o.key for o in ws.store.list(f"{INC}{table.full_name}/")} - loaded_keys
        assert len(loaded_keys) == 2 and len(waiting) == 1
    finally:
        ws.close()

    done = run_cli("--run", "s3clean", "clean", "-t", "items", "--force", "--json", env=env)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)["plans"][0]
    assert set(plan["keys"]) == loaded_keys
    assert (plan["loaded"], plan["skipped_unloaded"], plan["loaded_status_known"]) == (2, 1, True)
    listing = run_cli("--run", "s3clean", "list", "-t", "items", "--json", env=env)
    [row] = json.loads(listing.stdout)["tables"]
    assert (row["files"], row["loaded"], row["unloaded"]) == (1, 0, 1)
    store = open_store(build_settings(env))
    assert {o.key for o in store.list(f"{INC}{table.full_name}/")} == waiting
