"""What a run record costs a run: the recorder's writes (create at the start, the final write) and
a heartbeat, on a local-directory store and on an S3 endpoint (moto server mode on loopback, or
``--endpoint`` for a real one), next to the same-sized plain PUT of the store as the peer.

Each round records one run of ``--tables`` tables (their results as a sync reports them) and times
every write the recorder made; the peer is one unconditional put of the same bytes.

    python bench/run_records.py [--rounds 30] [--tables 10] [--endpoint http://127.0.0.1:9000 --bucket b]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3rb_tui.engine.core.jobs import TableResult  # noqa: E402
from s3rb_tui.engine.history.recorder import RunRecorder  # noqa: E402
from s3rb_tui.engine.stores.local import LocalStore  # noqa: E402


def _results(n: int) -> list[TableResult]:
    return [TableResult(f"db.table_{i}", "success", rows=1000, files=1, bytes=10_000, seconds=1.0,
                        details={"backup": {"rows": 1000, "seconds": 0.6, "bytes": 10_000}, "load": {"rows": 1000, "seconds": 0.4}})
            for i in range(n)]


def measure(store, rounds: int, tables: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"start": [], "finish": [], "run total": [], "peer put": []}
    for i in range(rounds):
        rec = RunRecorder(store, job_id=f"bench{i:04d}", command="sync", options={}, trigger="cli",
                          tables=[r.table for r in _results(tables)], heartbeat_seconds=3600, stale_after_seconds=7200, keep_days=90)
        rec.start()
        rec.finish(_results(tables))
        start, finish = rec.write_seconds[0], rec.write_seconds[-1]
        out["start"].append(start)
        out["finish"].append(finish)
        out["run total"].append(sum(rec.write_seconds))
        text = rec._text().encode()
        t = time.perf_counter()
        store.put(f"bench/peer-{i}.json", text)
        out["peer put"].append(time.perf_counter() - t)
    return out


def report(name: str, figures: dict[str, list[float]]) -> None:
    for what, values in figures.items():
        print(f"{name:6} {what:10} median {statistics.median(values) * 1000:7.2f} ms   p90 {sorted(values)[int(len(values) * 0.9)] * 1000:7.2f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--tables", type=int, default=10)
    p.add_argument("--endpoint")
    p.add_argument("--bucket", default="s3rb-bench-records")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("local", measure(LocalStore(Path(tmp) / "store"), args.rounds, args.tables))
    server = None
    endpoint = args.endpoint
    if endpoint is None:
        from tests.support.s3 import MotoS3

        server = MotoS3()
        endpoint = server.start()
    try:
        import boto3

        from s3rb_tui.engine.stores.s3 import S3Store

        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=args.bucket)
        store = S3Store(args.bucket, endpoint_url=endpoint, access_key="testing", secret_key="testing")
        report("s3", measure(store, args.rounds, args.tables))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
