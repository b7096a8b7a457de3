"""What ``history`` costs with many records: ``list_records`` over ``--records`` records on an S3
endpoint (moto server mode on loopback, or ``--endpoint``), read one at a time (``threads=1``, the
former loop) next to the bounded pool (``READ_THREADS``), in the same run. Two listings: ``--failed``
(one run in 50 failed, so every record is read) and the default ``--limit 20`` newest first (the
pool stops one window after the limit is met).

    python bench/history_listing.py [--records 500] [--rounds 3] [--endpoint URL --bucket B]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3rb_tui.engine.history import records  # noqa: E402


def fill(store, n: int) -> None:
    start = records.utcnow() - dt.timedelta(days=20)
    for i in range(n):
        began = start + dt.timedelta(minutes=50 * i)
        failed = i % 50 == 7
        doc = {"run_id": records.new_run_id(f"bench{i:05d}", began), "command": "sync", "started_at": records.iso(began),
               "finished_at": records.iso(began + dt.timedelta(minutes=3)), "status": "failed" if failed else "success",
               "host": "etl-2", "trigger": "cli", "tables": [{"table": f"db.t{j}", "status": "failed" if failed and j == 0 else "success",
                                                              "rows_extracted": 1000, "rows_loaded": 1000} for j in range(10)]}
        records.write_doc(store, doc, json.dumps(doc, indent=1), None)


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--endpoint")
    p.add_argument("--bucket", default="s3rb-bench-history")
    args = p.parse_args()
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
        fill(store, args.records)
        print(f"{args.records} records on {endpoint}, median of {args.rounds} rounds")
        for name, kwargs in (("--failed", {"failed": True, "limit": 20}), ("--limit 20", {"limit": 20})):
            one = timed(lambda: records.list_records(store, threads=1, **kwargs), args.rounds)
            pool = timed(lambda: records.list_records(store, **kwargs), args.rounds)
            print(f"history {name:<11} one at a time {one:6.2f} s   {records.READ_THREADS} threads {pool:6.2f} s   ({one / pool:.1f}x)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
