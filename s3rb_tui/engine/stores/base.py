"""One ObjectStore interface for S3 and a local directory.

Keys are ``/``-separated strings relative to the bucket (or the store's root directory).
Writes can be conditional: ``if_none_match=True`` creates only when the key does not exist,
``if_match=etag`` replaces only the version that was read. That is what watermark documents
and lock leases use for compare-and-swap.
"""

from __future__ import annotations

import builtins

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: dt.datetime  # aware, UTC
    etag: str = ""


@dataclass(frozen=True)
class DeleteError:
    key: str
    code: str
    message: str


class PreconditionFailed(Exception):
    """A conditional write found the key in another state than the caller expected."""


class ObjectStore(ABC):
    #: human-readable location, e.g. ``s3://bucket`` or ``file:///var/data``
    url: str

    @abstractmethod
    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        """Write ``data`` durably; returns the new ETag. Raises PreconditionFailed."""

    @abstractmethod
    def put_file(self, key: str, path: str) -> str:
        """Upload a local file (multipart where it is large); returns the ETag."""

    @abstractmethod
    def get(self, key: str) -> tuple[bytes, str]:
        """(data, etag). Raises KeyError when the key does not exist."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Metadata, or None when the key does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every key under ``prefix`` (paginated underneath), in key order."""

    @abstractmethod
    def delete_many(self, keys: builtins.list[str]) -> builtins.list[DeleteError]:
        """Delete keys (in chunks of at most 1000); returns per-key errors, empty when all went."""

    @abstractmethod
    def open_range(self, key: str, start: int, length: int) -> bytes:
        """Bytes ``[start, start+length)`` of an object (Parquet footers without full download)."""

    @abstractmethod
    def open_input(self, key: str):
        """A seekable binary file-like object for reading (pyarrow can read Parquet from it)."""

    def delete(self, key: str) -> None:
        errors = self.delete_many([key])
        if errors:
            raise OSError(f"could not delete {key}: {errors[0].code} {errors[0].message}")

    def now(self) -> dt.datetime:
        """The store's own clock (UTC), the one its objects' ``last_modified`` are stamped with: a
        local directory's is this host's."""
        return dt.datetime.now(dt.timezone.utc)

    def check(self) -> str:
        """Raise if the store cannot be reached; returns a short description."""
        next(iter(self.list("\0nonexistent-probe/")), None)
        return self.url
