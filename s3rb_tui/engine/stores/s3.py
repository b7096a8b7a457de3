"""S3 (or any S3-compatible endpoint) as the object store, through boto3.

- Retries: botocore's ``standard`` mode (exponential backoff with jitter; retries throttling such as
  ``503 SlowDown``, 5xx and connection errors). ``max_attempts`` counts the first try.
- Conditional writes use S3's own ``If-None-Match: *`` and ``If-Match: <etag>`` on PutObject
  (412 PreconditionFailed / 409 ConditionalRequestConflict -> PreconditionFailed). ``If-Match`` on
  a key that does not exist answers 404, which is a failed precondition too.
- Errors become JobError (ConfigError for a missing bucket or rejected credentials), one line
  naming the bucket and the endpoint, with a hint. The secret key never appears in a message.
"""

from __future__ import annotations

import builtins

import contextlib
import datetime as dt
import email.utils
import io
import os
from typing import Iterator

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.stores.base import DeleteError, ObjectInfo, ObjectStore, PreconditionFailed

DELETE_CHUNK = 1000  # S3's DeleteObjects limit
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
READ_AHEAD = 1024 * 1024

_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AuthorizationHeaderMalformed"}
_PRECONDITION_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class S3Store(ObjectStore):
    def __init__(
        self,
        bucket: str,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        max_attempts: int = 4,
        timeout_seconds: int = 300,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNK,
    ):
        if not bucket:
            raise ConfigError("S3_BUCKET_NAME is empty", "set the bucket, or STORE_URL=file:///dir for a local store")
        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self.endpoint_url = endpoint_url or None
        self.region = region or "us-east-1"
        self.max_attempts = max(1, max_attempts)
        self._secrets = [s for s in (secret_key, session_token) if s]
        config = Config(
            region_name=self.region,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            # S3-compatible servers (MinIO, test servers) want path-style URLs and no optional
            # checksums; AWS itself keeps botocore's defaults.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            request_checksum_calculation="when_required" if self.endpoint_url else "when_supported",
            response_checksum_validation="when_required" if self.endpoint_url else "when_supported",
        )
        session = boto3.session.Session()
        self.client = session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            aws_session_token=session_token or None,
            config=config,
        )
        self._transfer = TransferConfig(multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize)

    @classmethod
    def from_settings(cls, settings) -> "S3Store":
        return cls(
            settings.str("S3_BUCKET_NAME"),
            region=settings.str("S3_REGION"),
            endpoint_url=settings.str("S3_ENDPOINT_URL"),
            access_key=settings.str("S3_ACCESS_KEY"),
            secret_key=settings.str("S3_SECRET_KEY"),
            session_token=settings.str("S3_SESSION_TOKEN"),
            # one first try plus BACKUP_RETRY_ATTEMPTS retries
            max_attempts=settings.int("BACKUP_RETRY_ATTEMPTS") + 1,
            timeout_seconds=settings.int("BACKUP_TIMEOUT_SECONDS"),
        )

    # --- errors ----------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"bucket {self.bucket} at {self.endpoint_url or f'AWS S3 ({self.region})'}"

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def _missing_bucket(self, action: str) -> ConfigError:
        return ConfigError(f"S3 {action}: {self.where}: the bucket does not exist", "create it, or fix S3_BUCKET_NAME / S3_ENDPOINT_URL")

    def _translate(self, exc: Exception, action: str) -> Exception:
        """A JobError/ConfigError for ``exc`` (raised while doing ``action``)."""
        if isinstance(exc, S3UploadFailedError) and isinstance(exc.__cause__, Exception):
            exc = exc.__cause__
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "Unknown"))
            message = self._scrub(str(err.get("Message", "")) or code)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return self._missing_bucket(action)
            if code in _CREDENTIAL_CODES:
                return ConfigError(f"S3 {action}: {self.where}: credentials rejected ({code})", "check S3_ACCESS_KEY / S3_SECRET_KEY (or the IAM role)")
            if code in ("AccessDenied", "AllAccessDisabled", "403"):
                return JobError(f"S3 {action}: {self.where}: access denied ({message})", "check the bucket policy and the IAM permissions of these credentials")
            hint = "S3 kept failing after retries; try again later" if status in (500, 502, 503, 504) or code in ("SlowDown", "Throttling") else "see the S3 error code"
            return JobError(f"S3 {action}: {self.where}: {code} (HTTP {status}): {message}", hint)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return ConfigError(f"S3 {action}: {self.where}: no credentials found", "set S3_ACCESS_KEY and S3_SECRET_KEY, or provide an IAM role / AWS profile")
        if isinstance(exc, BotoConnectionError):
            return JobError(f"S3 {action}: {self.where}: cannot connect ({exc.__class__.__name__})", "check S3_ENDPOINT_URL and the network")
        if isinstance(exc, BotoCoreError):
            return JobError(f"S3 {action}: {self.where}: {self._scrub(str(exc))}", "check the S3 settings")
        return exc

    @contextlib.contextmanager
    def _errors(self, action: str):
        try:
            yield
        except (ClientError, BotoCoreError, S3UploadFailedError) as e:
            raise self._translate(e, action) from None

    @staticmethod
    def _code(e: ClientError) -> str:
        return str(e.response.get("Error", {}).get("Code", ""))

    @staticmethod
    def _status(e: ClientError) -> int | None:
        return e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")

    # --- ObjectStore -----------------------------------------------------------------------
    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> str:
        kwargs: dict = {"Bucket": self.bucket, "Key": key, "Body": data}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            return self.client.put_object(**kwargs)["ETag"]
        except ClientError as e:
            code, status = self._code(e), self._status(e)
            if code in _PRECONDITION_CODES or status in (409, 412):
                raise PreconditionFailed(f"{key}: {code}") from None
            if if_match is not None and (code == "NoSuchKey" or status == 404):
                raise PreconditionFailed(f"{key} does not exist (expected ETag {if_match})") from None
            raise self._translate(e, f"put {key}") from None
        except BotoCoreError as e:
            raise self._translate(e, f"put {key}") from None

    def put_file(self, key: str, path: str) -> str:
        with self._errors(f"upload {key}"):
            if os.path.getsize(path) < self._transfer.multipart_threshold:
                with open(path, "rb") as f:  # one request, and its answer carries the ETag
                    return self.client.put_object(Bucket=self.bucket, Key=key, Body=f)["ETag"]
            self.client.upload_file(str(path), self.bucket, key, Config=self._transfer)
            return self.client.head_object(Bucket=self.bucket, Key=key)["ETag"]

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]
        except ClientError as e:
            if self._code(e) == "NoSuchKey":
                raise KeyError(key) from None
            raise self._translate(e, f"get {key}") from None
        except BotoCoreError as e:
            raise self._translate(e, f"get {key}") from None

    def now(self) -> dt.datetime:
        """The S3 server's clock: the ``Date`` header of one empty listing (to the second), the clock
        its ``LastModified`` stamps come from, whatever this host's clock says."""
        with self._errors("read the store's clock"):
            r = self.client.list_objects_v2(Bucket=self.bucket, Prefix="\0clock-probe/", MaxKeys=1)
        date = r.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        try:
            return _utc(email.utils.parsedate_to_datetime(date)) if date else super().now()
        except (TypeError, ValueError):
            return super().now()

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if self._status(e) == 404 and self._code(e) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._translate(e, f"head {key}") from None
        except BotoCoreError as e:
            raise self._translate(e, f"head {key}") from None
        return ObjectInfo(key=key, size=r["ContentLength"], last_modified=_utc(r["LastModified"]), etag=r["ETag"])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(f"list {prefix or '(all)'}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(key=obj["Key"], size=obj["Size"], last_modified=_utc(obj["LastModified"]), etag=obj.get("ETag", ""))

    def delete_many(self, keys: builtins.list[str]) -> builtins.list[DeleteError]:
        errors: list[DeleteError] = []
        for start in range(0, len(keys), DELETE_CHUNK):
            chunk = keys[start:start + DELETE_CHUNK]
            with self._errors(f"delete {len(chunk)} keys"):
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
            for err in response.get("Errors", ()):
                errors.append(DeleteError(err.get("Key", ""), err.get("Code", "Unknown"), self._scrub(err.get("Message", ""))))
        return errors

    def open_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        return self._range(key, start, length)

    def _range(self, key: str, start: int, length: int, if_match: str | None = None) -> bytes:
        kwargs: dict = {"Bucket": self.bucket, "Key": key, "Range": f"bytes={start}-{start + length - 1}"}
        if if_match:
            kwargs["IfMatch"] = if_match
        try:
            return self.client.get_object(**kwargs)["Body"].read()
        except ClientError as e:
            code = self._code(e)
            if code == "NoSuchKey":
                raise KeyError(key) from None
            if code == "InvalidRange":
                return b""
            if code == "PreconditionFailed":
                raise JobError(f"S3 read {key}: {self.where}: the object was replaced while being read", "run again") from None
            raise self._translate(e, f"read {key}") from None
        except BotoCoreError as e:
            raise self._translate(e, f"read {key}") from None

    def open_input(self, key: str) -> io.BufferedReader:
        info = self.head(key)
        if info is None:
            raise KeyError(key)
        return io.BufferedReader(_RangeReader(self, key, info.size, info.etag), buffer_size=READ_AHEAD)

    def check(self) -> str:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if self._status(e) == 404:  # HEAD answers carry no error code
                raise self._missing_bucket("check") from None
            raise self._translate(e, "check") from None
        except BotoCoreError as e:
            raise self._translate(e, "check") from None
        return f"{self.url} ({self.endpoint_url or 'AWS ' + self.region})"


class _RangeReader(io.RawIOBase):
    """A seekable read-only view of one object version, fetched with Range GETs.

    Wrapped in ``io.BufferedReader`` by ``S3Store.open_input`` for read-ahead. Every GET carries
    ``If-Match`` with the ETag seen at open, so a replaced object fails loudly instead of mixing
    two versions.
    """

    def __init__(self, store: S3Store, key: str, size: int, etag: str):
        super().__init__()
        self._store, self._key, self._size, self._etag = store, key, size, etag
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._store._range(self._key, self._pos, want, if_match=self._etag)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n
