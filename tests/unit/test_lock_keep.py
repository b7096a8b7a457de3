"""``TableLock.keep``: the hot paths (a backup after every file) write the lease at most every
``KEEP_SECONDS``, and a lease another run took over is still found at the next write."""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.core.errors import LockedError
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.locks import KEEP_SECONDS, TableLock
from s3rb_tui.engine.stores.local import LocalStore


def test_keep_writes_the_lease_only_when_due_and_finds_a_takeover(tmp_path):
    store = LocalStore(tmp_path / "store")
    lock = TableLock(store, TableRef("shop", "orders")).acquire()
    first_etag, first = lock.etag, json.loads(store.get(lock.key)[0])
    for _ in range(100):  # 100 files in a row: the lease is not written again
        lock.keep()
    assert lock.etag == first_etag and json.loads(store.get(lock.key)[0]) == first

    lock._renewed -= KEEP_SECONDS  # a minute later
    lock.keep()
    renewed = json.loads(store.get(lock.key)[0])
    assert lock.etag != first_etag and renewed["expires"] >= first["expires"] and renewed["owner"] == first["owner"]

    store.put(lock.key, json.dumps({**renewed, "owner": "another run"}).encode())  # taken over meanwhile
    lock.keep()  # not due: nothing is written, nothing is noticed yet
    assert json.loads(store.get(lock.key)[0])["owner"] == "another run"
    lock._renewed -= KEEP_SECONDS
    with pytest.raises(LockedError, match="lost the lock on shop.orders"):
        lock.keep()
    assert not lock.held


def test_a_short_lease_is_kept_well_before_it_expires(tmp_path):
    store = LocalStore(tmp_path / "store")
    lock = TableLock(store, TableRef("shop", "orders"), lease_seconds=6).acquire()
    etag = lock.etag
    lock._renewed -= 2  # a third of the lease
    lock.keep()
    assert lock.etag != etag
