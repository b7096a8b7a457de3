"""A local directory as an object store (demo, offline use, tests).

Keys map to files under the root directory. Every write goes to a temporary file in the target
directory, is fsynced, then renamed into place (``os.replace`` is atomic), and the directory is
fsynced so the rename survives a crash.

Conditional writes are compare-and-swap across threads and processes: the final step of every
write and delete (compare, then rename) runs under one ``fcntl.flock`` on ``<root>/.s3rb-store.lock``.
``if_none_match`` creates with ``os.link`` (fails atomically when the key exists); ``if_match``
compares the ETag, which is the quoted MD5 of the content, as S3 gives for single-part objects.
Listing leaves ``ObjectInfo.etag`` empty (it would mean reading every file); ``head`` and ``get``
return it.

Names beginning with ``.s3rb-`` are this store's own (lock and temporary files): they are never
listed, and keys may not use them.
"""

from __future__ import annotations

import builtins

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import unquote, urlparse

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.stores.base import DeleteError, ObjectInfo, ObjectStore, PreconditionFailed

RESERVED_PREFIX = ".s3rb-"
LOCK_NAME = RESERVED_PREFIX + "store.lock"
_COPY_CHUNK = 1024 * 1024


class InvalidKey(ValueError):
    """A key that would escape the root or collide with the store's own files."""


def _quoted_md5(digest: "hashlib._Hash") -> str:
    return f'"{digest.hexdigest()}"'


def _normalize_etag(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag if etag.startswith('"') else f'"{etag}"'


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return  # emptied and removed by a concurrent delete: nothing left to make durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime_utc(st: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=dt.timezone.utc)


class LocalStore(ObjectStore):
    def __init__(self, root: str | os.PathLike):
        root_path = Path(root)
        if not root_path.is_absolute():
            raise ConfigError(f"local store root {str(root)!r} is not an absolute path", "use STORE_URL=file:///absolute/dir")
        try:
            root_path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create local store directory {root_path}: {e.strerror}", "check the path and its permissions") from None
        if not root_path.is_dir():
            raise ConfigError(f"local store root {root_path} is not a directory", "point STORE_URL at a directory")
        self.root = root_path.resolve()
        self.url = self.root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> "LocalStore":
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise ConfigError(f"STORE_URL={url!r} is not a file:///absolute/dir URL", "use STORE_URL=file:///absolute/dir")
        return cls(unquote(parsed.path))

    # --- keys and paths ------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not key:
            raise InvalidKey("empty key")
        if "\0" in key or "\\" in key:
            raise InvalidKey(f"key {key!r} contains a NUL or backslash")
        if key.startswith("/"):
            raise InvalidKey(f"key {key!r} is absolute; keys are relative to the store root")
        parts = key.split("/")
        for part in parts:
            if part in ("", ".", ".."):
                raise InvalidKey(f"key {key!r} has an empty, '.' or '..' segment")
            if part.startswith(RESERVED_PREFIX):
                raise InvalidKey(f"key {key!r} uses the reserved name prefix {RESERVED_PREFIX!r}")
        return self.root.joinpath(*parts)

    @contextlib.contextmanager
    def _locked(self):
        """Exclusive lock for compare-and-rename steps (threads and processes alike)."""
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _temp_file(self, path: Path) -> tuple[Path, BinaryIO]:
        """A new temporary file next to ``path`` (creating parent directories)."""
        for _ in range(5):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f"{RESERVED_PREFIX}tmp-{uuid.uuid4().hex}-{path.name}"
            try:
                return tmp, open(tmp, "xb")
            except FileNotFoundError:
                continue  # a concurrent delete removed the empty parent directory: make it again
        raise OSError(errno.ENOENT, f"cannot create a temporary file in {path.parent}")

    def _write_durably(self, key: str, write_body, *, if_none_match: bool, if_match: str | None) -> str:
        path = self._path(key)
        tmp, f = self._temp_file(path)
        try:
            with f:
                digest = write_body(f)
                f.flush()
                os.fsync(f.fileno())
            with self._locked():
                if if_none_match:
                    try:
                        os.link(tmp, path)  # atomic create-if-absent
                    except FileExistsError:
                        raise PreconditionFailed(f"{key} already exists") from None
                    os.unlink(tmp)
                else:
                    if if_match is not None:
                        current = self._etag_of(path)
                        if current is None:
                            raise PreconditionFailed(f"{key} does not exist (expected ETag {if_match})")
                        if current != _normalize_etag(if_match):
                            raise PreconditionFailed(f"{key} changed (ETag {current}, expected {if_match})")
                    os.replace(tmp, path)
                _fsync_dir(path.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return _quoted_md5(digest)

    @staticmethod
    def _etag_of(path: Path) -> str | None:
        try:
            with open(path, "rb") as f:
                return _quoted_md5(hashlib.file_digest(f, "md5"))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    # --- ObjectStore -----------------------------------------------------------------------
    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        def body(f: BinaryIO):
            f.write(data)
            return hashlib.md5(data)

        return self._write_durably(key, body, if_none_match=if_none_match, if_match=if_match)

    def put_file(self, key: str, path: str) -> str:
        def body(f: BinaryIO):
            digest = hashlib.md5()
            with open(path, "rb") as src:
                while chunk := src.read(_COPY_CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
            return digest

        return self._write_durably(key, body, if_none_match=False, if_match=None)

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            with open(self._path(key), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None
        return data, _quoted_md5(hashlib.md5(data))

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                etag = _quoted_md5(hashlib.file_digest(f, "md5"))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return ObjectInfo(key=key, size=st.st_size, last_modified=_mtime_utc(st), etag=etag)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every key starting with ``prefix`` (a plain string prefix, as in S3), in key order."""
        if "\0" in prefix or "\\" in prefix or prefix.startswith("/"):
            return iter(())
        dir_part = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        segments = [s for s in dir_part.split("/") if s]
        if any(s in (".", "..") for s in segments):
            raise InvalidKey(f"prefix {prefix!r} has a '.' or '..' segment")
        base = self.root.joinpath(*segments)
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(RESERVED_PREFIX)]
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in filenames:
                if name.startswith(RESERVED_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue  # deleted while we walked
                found.append(ObjectInfo(key=key, size=st.st_size, last_modified=_mtime_utc(st)))
        found.sort(key=lambda info: info.key)  # code-point order == S3's UTF-8 byte order
        return iter(found)

    def delete_many(self, keys: builtins.list[str]) -> builtins.list[DeleteError]:
        errors: list[DeleteError] = []
        for start in range(0, len(keys), 1000):
            touched: set[Path] = set()
            with self._locked():
                for key in keys[start:start + 1000]:
                    error = self._delete_one(key, touched)
                    if error is not None:
                        errors.append(error)
                for directory in touched:  # once per directory, not once per key
                    _fsync_dir(directory)
            for directory in sorted(touched, key=lambda d: len(d.parts), reverse=True):
                self._remove_empty_parents(directory)
        return errors

    def _delete_one(self, key: str, touched: set[Path]) -> DeleteError | None:
        try:
            path = self._path(key)
        except InvalidKey as e:
            return DeleteError(key, "InvalidKey", str(e))
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # as in S3: deleting a missing key succeeds
        except OSError as e:
            return DeleteError(key, errno.errorcode.get(e.errno or 0, "OSError"), e.strerror or str(e))
        touched.add(path.parent)
        return None

    def _remove_empty_parents(self, directory: Path) -> None:
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or gone): stop
            directory = directory.parent

    def open_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(start)
                return f.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    def open_input(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    def check(self) -> str:
        if not self.root.is_dir():
            raise ConfigError(f"local store directory {self.root} does not exist", "create it or fix STORE_URL")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ConfigError(f"local store directory {self.root} is not writable", "fix its permissions or STORE_URL")
        return self.url
