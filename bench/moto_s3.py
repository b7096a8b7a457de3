"""moto's S3 server in a process of its own, for the benchmarks that write to S3 (``--s3`` of
bench/breakdown.py and bench/defaults.py): its CPU is not the client's, as on AWS."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


class MotoS3:
    """moto's S3 server in a process of its own on a free loopback port, and a bucket in it."""

    def __init__(self) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start (pip install 'moto[server]')") from None
                time.sleep(0.05)

    bucket = "s3rb-bench"

    def store(self, create: bool = True):
        """An ``S3Store`` on the bucket whose client has botocore's AWS defaults (checksums when
        supported); ``create``: the bucket is made first."""
        import boto3
        from botocore.config import Config

        from s3rb_tui.engine.stores.s3 import S3Store

        store = S3Store(self.bucket, endpoint_url=self.url, access_key="bench", secret_key="bench")
        store.client = boto3.session.Session().client("s3", endpoint_url=self.url, aws_access_key_id="bench",
                                                      aws_secret_access_key="bench", region_name="us-east-1",
                                                      config=Config(s3={"addressing_style": "path"}))
        if create:
            store.client.create_bucket(Bucket=self.bucket)
        return store

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
