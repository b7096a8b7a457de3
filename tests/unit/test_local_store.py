"""LocalStore: durable conditional writes, key safety, listing order, per-key delete errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.stores import PreconditionFailed, open_store
from s3rb_tui.engine.stores.local import LOCK_NAME, InvalidKey, LocalStore
from s3rb_tui.settings import build_settings


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_open_store_picks_local_directory_from_store_url(tmp_path: Path):
    settings = build_settings({"STORE_URL": (tmp_path / "data dir").as_uri()})
    store = open_store(settings)
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "data dir").resolve()
    store.put("a/b.txt", b"x")
    assert (tmp_path / "data dir" / "a" / "b.txt").read_bytes() == b"x"


def test_store_url_must_be_absolute_file_url():
    with pytest.raises(ConfigError, match="file:///absolute/dir"):
        LocalStore.from_url("file://relative/dir")


def test_put_get_head_roundtrip_with_md5_etag(store: LocalStore):
    body = b'{"a": 1}'
    etag = store.put("watermark/db.t.json", body)
    assert etag == '"' + hashlib.md5(body).hexdigest() + '"'
    data, got_etag = store.get("watermark/db.t.json")
    assert (data, got_etag) == (b'{"a": 1}', etag)
    info = store.head("watermark/db.t.json")
    assert info is not None and info.size == 8 and info.etag == etag
    assert info.last_modified.tzinfo == dt.timezone.utc
    assert abs((dt.datetime.now(dt.timezone.utc) - info.last_modified).total_seconds()) < 60
    assert store.head("watermark/missing.json") is None
    with pytest.raises(KeyError):
        store.get("watermark/missing.json")


def test_if_none_match_creates_only_once(store: LocalStore):
    store.put("lock/t.json", b"first", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("lock/t.json", b"second", if_none_match=True)
    assert store.get("lock/t.json")[0] == b"first"


def test_if_match_replaces_only_the_version_read(store: LocalStore):
    etag1 = store.put("wm.json", b"v1")
    etag2 = store.put("wm.json", b"v2", if_match=etag1)
    with pytest.raises(PreconditionFailed):
        store.put("wm.json", b"v3", if_match=etag1)  # stale
    assert store.get("wm.json") == (b"v2", etag2)
    with pytest.raises(PreconditionFailed):
        store.put("never-written.json", b"x", if_match=etag2)
    assert store.head("never-written.json") is None


def test_failed_writes_leave_no_temporary_files(store: LocalStore):
    store.put("d/k", b"1", if_none_match=True)
    for _ in range(3):
        with pytest.raises(PreconditionFailed):
            store.put("d/k", b"2", if_none_match=True)
        with pytest.raises(PreconditionFailed):
            store.put("d/k", b"2", if_match='"0000"')
    assert sorted(os.listdir(store.root / "d")) == ["k"]


def _increment(root: str, key: str, times: int) -> None:
    store = LocalStore(root)
    done = 0
    while done < times:
        data, etag = store.get(key)
        try:
            store.put(key, str(int(data) + 1).encode(), if_match=etag)
            done += 1
        except PreconditionFailed:
            continue  # lost the race: read again


def _create(root: str, key: str, ident: int, results) -> None:
    try:
        LocalStore(root).put(key, str(ident).encode(), if_none_match=True)
        results.put(ident)
    except PreconditionFailed:
        results.put(-1)


def test_compare_and_swap_is_atomic_across_processes(store: LocalStore):
    store.put("counter", b"0")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_increment, args=(str(store.root), "counter", 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert store.get("counter")[0] == b"160"  # no lost update


def test_create_if_absent_has_exactly_one_winner_across_processes(store: LocalStore):
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_create, args=(str(store.root), "lease", i, results)) for i in range(6)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    winners = [o for o in outcomes if o >= 0]
    assert len(winners) == 1
    assert store.get("lease")[0] == str(winners[0]).encode()


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", "a//b", "a/./b", "", "a\\b", "x/.s3rb-store.lock"])
def test_path_traversal_and_reserved_keys_are_rejected(store: LocalStore, key: str, tmp_path: Path):
    with pytest.raises(InvalidKey):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.get(key)
    assert not (tmp_path / "escape").exists()


def test_list_is_recursive_in_key_order_and_skips_own_files(store: LocalStore):
    keys = ["p/a-c", "p/a/b", "p/a", "p/b/2", "p/b/10", "p/ü", "p/Z", "q/other"]
    for k in keys:
        if k == "p/a":
            continue  # "p/a" is a directory here (a local store cannot hold both "p/a" and "p/a/b")
        store.put(k, k.encode())
    (store.root / "p" / ".s3rb-tmp-123-x").write_bytes(b"partial")
    listed = [i.key for i in store.list("p/")]
    expected = sorted(k for k in keys if k.startswith("p/") and k != "p/a")
    assert listed == expected
    assert listed == sorted(listed, key=lambda k: k.encode("utf-8"))  # S3's byte order
    assert [i.key for i in store.list("p/b")] == ["p/b/10", "p/b/2"]
    assert [i.key for i in store.list("p/a")] == ["p/a-c", "p/a/b"]
    assert [i.size for i in store.list("q/")] == [len(b"q/other")]
    assert list(store.list("nothing/here/")) == []
    assert LOCK_NAME not in [i.key for i in store.list("")]


def test_delete_many_deletes_chunks_and_ignores_missing_keys(store: LocalStore):
    keys = [f"t/year=2024/f{i:05d}" for i in range(1200)]
    for k in keys:
        store.put(k, b"")
    assert store.delete_many(keys + ["t/never-existed"]) == []
    assert list(store.list("t/")) == []
    assert not (store.root / "t").exists()  # empty partition directories are removed too


def test_delete_many_reports_each_failing_key(store: LocalStore):
    store.put("t/keep", b"1")
    store.put("t/gone", b"2")
    errors = store.delete_many(["t/gone", "../outside", "t/keep"])
    assert [(e.key, e.code) for e in errors] == [("../outside", "InvalidKey")]
    assert store.head("t/gone") is None and store.head("t/keep") is None


def test_delete_many_reports_an_os_level_refusal(store: LocalStore):
    store.put("t/protected", b"1")
    store.put("t/free", b"2")
    path = store.root / "t" / "protected"
    undo = _make_undeletable(path)
    try:
        errors = store.delete_many(["t/free", "t/protected"])
    finally:
        undo()
    assert [(e.key, e.code) for e in errors] == [("t/protected", errors[0].code)]
    assert errors[0].code in ("EPERM", "EACCES") and errors[0].message
    assert store.head("t/free") is None
    assert store.get("t/protected")[0] == b"1"


def _make_undeletable(path: Path):
    """Root ignores directory permissions, so use the immutable attribute there."""
    if os.geteuid() != 0:
        path.parent.chmod(0o555)
        return lambda: path.parent.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no way to make a file undeletable")
    return lambda: subprocess.run([chattr, "-i", str(path)], check=True)


def test_open_range_and_open_input_read_parquet(store: LocalStore, tmp_path: Path):
    table = pa.table({"id": list(range(1000)), "name": [f"n{i}" for i in range(1000)]})
    pq.write_table(table, tmp_path / "f.parquet")
    store.put_file("incremental/db.t/f.parquet", str(tmp_path / "f.parquet"))
    raw = (tmp_path / "f.parquet").read_bytes()
    assert store.open_range("incremental/db.t/f.parquet", len(raw) - 4, 4) == b"PAR1"
    with store.open_input("incremental/db.t/f.parquet") as f:
        assert pq.read_table(f).equals(table)
    with pytest.raises(KeyError):
        store.open_input("incremental/db.t/missing.parquet")
