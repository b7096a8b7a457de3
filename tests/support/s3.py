"""An S3 endpoint for tests: moto's server mode on loopback, spoken to over real HTTP.

Nothing here patches boto3: clients get ``endpoint_url`` and the fake keys below explicitly, so a
real AWS credential on the machine is never read or used.
"""

from __future__ import annotations

import boto3
from botocore.config import Config

from .waiting import port_open

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
REGION = "us-east-1"


class MotoS3:
    """A ThreadedMotoServer on 127.0.0.1 and a port the kernel picks."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # imported late: a missing moto is reported, not crashed on

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        if not port_open(host, port):
            raise RuntimeError(f"moto S3 server not accepting connections on {host}:{port}")
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()


def client(endpoint_url: str):
    """A boto3 S3 client for the test endpoint with the fake test keys (path-style addressing)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}),
    )


def delete_bucket(s3, bucket: str) -> None:
    """Delete the bucket's policy, every object version, and the bucket itself."""
    s3.delete_bucket_policy(Bucket=bucket)
    paginator = s3.get_paginator("list_object_versions")
    # List everything before deleting: moto ends the listing early when the page marker's key
    # was deleted in between, which left buckets of more than 1000 objects undeletable.
    keys = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for page in paginator.paginate(Bucket=bucket)
        for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
    ]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def data_keys(s3_client, bucket: str, prefix: str = "incremental/") -> list[str]:
    """The Parquet data files under ``prefix`` in ``bucket`` (every page of the listing)."""
    keys = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")]
    return keys
