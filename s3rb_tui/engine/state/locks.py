"""One lock per table: a lease object in the store (host, pid, start time, expiry).

Two runs on the same table (console, cron, another host) never overlap: the second one is told
who holds the lock. A lease whose holder is a dead process on this host, or whose expiry has
passed, is taken over (with a log line). The holder renews its lease between batches
(``keep``: at most every ``KEEP_SECONDS``).

A run that was refused the lock, or lost it, holds nothing of the table: ``held`` is False and
such a run must not write the table's watermark or files (issue 13: a refused run's "failed"
note in the watermark broke the holder's next compare-and-swap and the holder reported 0 rows).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass

from s3rb_tui.engine.core.errors import LockedError
from s3rb_tui.engine.stores.layout import lock_key
from s3rb_tui.engine.stores.base import ObjectStore, PreconditionFailed
from s3rb_tui.engine.core.table_names import TableRef

DEFAULT_LEASE_SECONDS = 15 * 60
#: ``keep()`` renews a lease at most this often (a fifteenth of the default lease): a backup used
#: to renew after every file, one PUT beside the file's own PUT and the watermark's; to moto's S3
#: server on loopback that was a third of the per-file requests, and a network round trip each to
#: S3 itself. Safety holds: a live holder's lease can only be taken over once it has expired.
KEEP_SECONDS = 60


@dataclass(frozen=True)
class LeaseInfo:
    host: str
    pid: int
    started: float
    expires: float
    owner: str
    purpose: str = ""

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"{self.purpose or 'a run'} on host {self.host}, pid {self.pid}, since {started}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_reason(info: LeaseInfo) -> str:
    """Why a lease may be taken over ("" while its holder may still be working)."""
    if info.expires < time.time():
        return "its lease expired"
    if info.host == socket.gethostname() and info.pid != os.getpid() and not _pid_alive(info.pid):
        return "its process is gone"
    return ""


class TableLock:
    def __init__(self, store: ObjectStore, table: TableRef, purpose: str = "backup", lease_seconds: int = DEFAULT_LEASE_SECONDS, log=None):
        self.store = store
        self.table = table
        self.key = lock_key(table)
        self.purpose = purpose
        self.lease_seconds = lease_seconds
        self.owner = uuid.uuid4().hex
        self.etag: str | None = None
        self._log = log or (lambda *a, **k: None)
        self._renewed = 0.0  # time.monotonic() of the last write of the lease

    def _body(self, started: float | None = None) -> bytes:
        now = time.time()
        return json.dumps({
            "host": socket.gethostname(), "pid": os.getpid(), "started": started or now,
            "expires": now + self.lease_seconds, "owner": self.owner, "purpose": self.purpose,
            "table": self.table.full_name,
        }).encode()

    def holder(self) -> tuple[LeaseInfo | None, str | None]:
        try:
            data, etag = self.store.get(self.key)
        except KeyError:
            return None, None
        try:
            d = json.loads(data)
            return LeaseInfo(d["host"], int(d["pid"]), float(d["started"]), float(d["expires"]), d["owner"], d.get("purpose", "")), etag
        except (ValueError, KeyError, TypeError):
            return LeaseInfo("?", 0, 0.0, 0.0, "?", "unreadable lease"), etag

    def live_holder(self) -> LeaseInfo | None:
        """The run holding the table now, if its lease could not be taken over (read only: a plan
        says so before it asks; whoever deletes still takes the lock)."""
        info, _ = self.holder()
        return info if info is not None and not _stale_reason(info) else None

    def acquire(self) -> "TableLock":
        self._started = time.time()
        self._renewed = time.monotonic()
        try:
            self.etag = self.store.put(self.key, self._body(self._started), if_none_match=True)
            return self
        except PreconditionFailed:
            pass
        info, etag = self.holder()
        if info is None:  # released between our two calls: try once more
            try:
                self.etag = self.store.put(self.key, self._body(self._started), if_none_match=True)
                return self
            except PreconditionFailed:
                info, etag = self.holder()
        assert info is not None
        stale = _stale_reason(info)
        if not stale:
            raise LockedError(
                f"{self.table} is locked by {info.describe()}",
                "wait for that run to finish; a lock of a dead process on this host is taken over automatically",
            )
        try:
            self.etag = self.store.put(self.key, self._body(self._started), if_match=etag)
        except PreconditionFailed:
            raise LockedError(f"{self.table} was just locked by another run", "try again in a moment") from None
        self._log("lock taken over", level="warning", table=self.table.full_name, previous_holder=info.describe(), reason=stale)
        return self

    @property
    def held(self) -> bool:
        """True between a successful ``acquire`` and ``release``, unless the lease was lost."""
        return self.etag is not None

    def keep(self) -> None:
        """``renew`` when ``KEEP_SECONDS`` have passed since the lease was last written (the hot
        paths call this after every file or batch)."""
        if time.monotonic() - self._renewed >= min(KEEP_SECONDS, self.lease_seconds / 3):
            self.renew()

    def renew(self) -> None:
        if self.etag is None:
            return
        try:
            self._renewed = time.monotonic()
            self.etag = self.store.put(self.key, self._body(self._started), if_match=self.etag)
        except PreconditionFailed:
            self.etag = None  # someone else holds it now: nothing of the table is ours any more
            raise LockedError(f"lost the lock on {self.table} (another run took it over)", "check for a second run of this table") from None

    def release(self) -> None:
        if self.etag is None:
            return
        info, etag = self.holder()
        if info is not None and info.owner == self.owner:
            try:
                self.store.delete(self.key)
            except OSError:
                pass
        self.etag = None

    def __enter__(self) -> "TableLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
