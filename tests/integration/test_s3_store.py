"""S3Store against a real S3 endpoint (moto's server over HTTP; boto3 is not patched).

Faults are produced the way S3 produces them: a bucket policy that denies one key, and ``503
SlowDown`` answers injected with botocore's own ``before-send`` hook on the store's client.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.awsrequest import AWSResponse

from s3rb_tui.engine.core.errors import ConfigError, JobError
from s3rb_tui.engine.stores import PreconditionFailed, open_store
from s3rb_tui.engine.stores.s3 import S3Store
from s3rb_tui.settings import build_settings
from tests.support.s3 import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION

pytestmark = pytest.mark.integration


def make_store(endpoint: str, bucket: str, **kwargs) -> S3Store:
    kwargs.setdefault("access_key", FAKE_ACCESS_KEY)
    kwargs.setdefault("secret_key", FAKE_SECRET_KEY)
    return S3Store(bucket, region=REGION, endpoint_url=endpoint, **kwargs)


@pytest.fixture
def store(s3_endpoint: str, s3_bucket: str) -> S3Store:
    return make_store(s3_endpoint, s3_bucket)


def count_calls(store: S3Store, operation: str) -> list[dict]:
    """Record the parameters of every ``operation`` call the store's client makes."""
    seen: list[dict] = []
    store.client.meta.events.register(
        f"before-parameter-build.s3.{operation}", lambda params, **_: seen.append(dict(params))
    )
    return seen


def test_open_store_builds_s3_store_from_settings(s3_endpoint: str, s3_bucket: str):
    settings = build_settings({
        "S3_BUCKET_NAME": s3_bucket, "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": REGION,
        "S3_ACCESS_KEY": FAKE_ACCESS_KEY, "S3_SECRET_KEY": FAKE_SECRET_KEY, "BACKUP_RETRY_ATTEMPTS": "5",
    })
    store = open_store(settings)
    assert isinstance(store, S3Store)
    assert store.url == f"s3://{s3_bucket}"
    assert store.max_attempts == 6  # the first try plus BACKUP_RETRY_ATTEMPTS retries
    assert s3_bucket in store.check()


def test_missing_bucket_is_a_config_error_naming_bucket_and_endpoint(s3_endpoint: str):
    store = make_store(s3_endpoint, "s3rbt-no-such-bucket")
    with pytest.raises(ConfigError) as err:
        store.check()
    with pytest.raises(ConfigError):
        store.put("k", b"x")
    assert "s3rbt-no-such-bucket" in str(err.value) and s3_endpoint in str(err.value)


def test_unreachable_endpoint_is_a_job_error_naming_it():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    store = make_store(endpoint, "some-bucket", max_attempts=1, timeout_seconds=5)
    with pytest.raises(JobError) as err:
        store.get("k")
    assert endpoint in str(err.value) and "some-bucket" in str(err.value)


def test_put_get_head(store: S3Store):
    etag = store.put("watermark/db.t.json", b'{"v": 1}')
    assert store.get("watermark/db.t.json") == (b'{"v": 1}', etag)
    info = store.head("watermark/db.t.json")
    assert info is not None and (info.size, info.etag) == (8, etag)
    assert info.last_modified.tzinfo == dt.timezone.utc
    assert store.head("watermark/missing.json") is None
    with pytest.raises(KeyError):
        store.get("watermark/missing.json")


def test_conditional_create_and_compare_and_swap(store: S3Store):
    first = store.put("lock/t.json", b"one", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("lock/t.json", b"two", if_none_match=True)
    second = store.put("lock/t.json", b"two", if_match=first)
    with pytest.raises(PreconditionFailed):
        store.put("lock/t.json", b"three", if_match=first)  # stale ETag
    assert store.get("lock/t.json") == (b"two", second)
    with pytest.raises(PreconditionFailed):
        store.put("lock/never.json", b"x", if_match=second)  # If-Match on a missing key
    assert store.head("lock/never.json") is None


def test_more_than_1000_keys_list_in_pages_and_delete_in_chunks(store: S3Store):
    table_keys = [f"incremental/db.t/f{i:05d}.parquet" for i in range(1100)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, k.encode()), table_keys + ["incremental/db.u/x", "other/y"]))

    pages = count_calls(store, "ListObjectsV2")
    listed = list(store.list("incremental/db.t/"))
    assert [i.key for i in listed] == sorted(table_keys)
    assert len(pages) == 2  # S3 returns at most 1000 keys a page
    assert listed[0].size == len(table_keys[0]) and listed[0].etag

    calls = count_calls(store, "DeleteObjects")
    assert store.delete_many(table_keys) == []
    assert [len(c["Delete"]["Objects"]) for c in calls] == [1000, 100]
    assert all(c["Delete"]["Quiet"] for c in calls)
    assert [i.key for i in store.list("")] == ["incremental/db.u/x", "other/y"]


def test_denied_key_is_reported_and_the_others_deleted(store: S3Store, s3_client, s3_bucket: str):
    for k in ("t/a.parquet", "t/protected.parquet", "t/c.parquet"):
        store.put(k, b"x")
    s3_client.put_bucket_policy(Bucket=s3_bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{s3_bucket}/t/protected.parquet",
        }],
    }))
    errors = store.delete_many(["t/a.parquet", "t/protected.parquet", "t/c.parquet"])
    assert [(e.key, e.code) for e in errors] == [("t/protected.parquet", "AccessDenied")]
    assert [i.key for i in store.list("t/")] == ["t/protected.parquet"]
    with pytest.raises(OSError, match="AccessDenied"):
        store.delete("t/protected.parquet")


def _slow_down(request, **_):
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message><RequestId>t</RequestId></Error>")

    class Raw:
        def stream(self, **_):
            yield body

    return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, Raw())


def inject_slow_down(store: S3Store, operation: str, times: int) -> list[int]:
    """Answer the first ``times`` ``operation`` requests with 503 SlowDown; returns the attempt log."""
    attempts: list[int] = []

    def handler(request, **kwargs):
        attempts.append(len(attempts) + 1)
        return _slow_down(request) if len(attempts) <= times else None

    store.client.meta.events.register(f"before-send.s3.{operation}", handler)
    return attempts


def test_slow_down_is_retried_and_succeeds(store: S3Store):
    attempts = inject_slow_down(store, "PutObject", times=2)
    etag = store.put("watermark/db.t.json", b"after retries")
    assert len(attempts) == 3
    assert store.get("watermark/db.t.json") == (b"after retries", etag)


def test_slow_down_beyond_the_retry_budget_fails_without_leaking_the_secret(s3_endpoint: str, s3_bucket: str):
    secret = secrets.token_urlsafe(24)
    store = make_store(s3_endpoint, s3_bucket, secret_key=secret, max_attempts=2)
    attempts = inject_slow_down(store, "PutObject", times=10)
    with pytest.raises(JobError) as err:
        store.put("watermark/db.t.json", b"never")
    assert len(attempts) == 2
    text = str(err.value)
    assert "SlowDown" in text and s3_bucket in text and s3_endpoint in text
    assert secret not in text and secret not in repr(err.value)
    assert store.head("watermark/db.t.json") is None


def test_parquet_is_readable_through_open_input(store: S3Store, tmp_path):
    n = 60_000
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "name": [f"name-{i:06d}" for i in range(n)],
        "amount": pa.array([i / 7 for i in range(n)], pa.float64()),
    })
    path = tmp_path / "batch_0001.parquet"
    pq.write_table(table, path, row_group_size=10_000)
    etag = store.put_file("incremental/db.t/batch_0001.parquet", str(path))
    size = path.stat().st_size
    info = store.head("incremental/db.t/batch_0001.parquet")
    assert info is not None and (info.size, info.etag) == (size, etag)
    assert size > 1024 * 1024  # more than one read-ahead buffer
    assert store.open_range("incremental/db.t/batch_0001.parquet", size - 4, 4) == b"PAR1"
    gets = count_calls(store, "GetObject")
    with store.open_input("incremental/db.t/batch_0001.parquet") as f:
        parquet = pq.ParquetFile(f)
        assert parquet.metadata.num_rows == n and parquet.metadata.num_row_groups == 6
        assert parquet.read_row_group(5).equals(table.slice(50_000, 10_000))
        assert parquet.read().equals(table)
    assert all(g["Range"].startswith("bytes=") for g in gets)  # ranged reads, not a download
    with pytest.raises(KeyError):
        store.open_input("incremental/db.t/missing.parquet")


def test_large_file_goes_up_in_parts(s3_endpoint: str, s3_bucket: str, tmp_path):
    mib = 1024 * 1024
    store = make_store(s3_endpoint, s3_bucket, multipart_threshold=5 * mib, multipart_chunksize=5 * mib)
    data = secrets.token_bytes(11 * mib)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    etag = store.put_file("big/big.bin", str(path))
    assert etag.strip('"').endswith("-3")  # a multipart ETag: three parts
    assert store.get("big/big.bin") == (data, etag)
    with store.open_input("big/big.bin") as f:
        f.seek(6 * mib)
        assert f.read(16) == data[6 * mib:6 * mib + 16]
        assert f.seek(0, io.SEEK_END) == len(data)


def test_no_credentials_anywhere_is_a_config_error(s3_endpoint: str, s3_bucket: str, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = make_store(s3_endpoint, s3_bucket, access_key="", secret_key="", max_attempts=1)
    with pytest.raises(ConfigError, match="no credentials") as err:
        store.put("k", b"x")
    assert s3_bucket in str(err.value)


def test_rejected_credentials_are_a_config_error_without_the_secret():
    """Pure translation logic: S3's answer to a wrong secret, as botocore parses it."""
    from botocore.exceptions import ClientError

    secret = secrets.token_urlsafe(24)
    store = S3Store("some-bucket", region=REGION, endpoint_url="http://127.0.0.1:9", access_key="AKIDEXAMPLE", secret_key=secret)
    answer = {"Error": {"Code": "SignatureDoesNotMatch", "Message": f"signature mismatch for key {secret}"},
              "ResponseMetadata": {"HTTPStatusCode": 403}}
    err = store._translate(ClientError(answer, "PutObject"), "put k")
    assert isinstance(err, ConfigError)
    assert "some-bucket" in str(err) and "S3_SECRET_KEY" in str(err) and secret not in str(err)
    denied = store._translate(ClientError({"Error": {"Code": "AccessDenied", "Message": secret}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject"), "get k")
    assert isinstance(denied, JobError) and not isinstance(denied, ConfigError) and secret not in str(denied)
