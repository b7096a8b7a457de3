"""Redshift's CSV method: peak memory of turning one Parquet file into gzipped CSV, streamed
(``files.write_gzip_csv``: DuckDB writes the gzip stream to a temporary file) against the whole-file
way it replaced (every CSV chunk joined, then ``gzip.compress`` in memory). Each run is its own
process (peak RSS from ``resource``), the two alternating ``--pairs`` times.

    python bench/redshift_csv.py PARQUET_FILE [--pairs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHILD = r"""
import gzip, json, resource, sys, time
from pathlib import Path
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.engine.warehouses import files
how, path, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
store = LocalStore(str(path.parent))
started = time.perf_counter()
if how == "stream":
    size = files.write_gzip_csv(store, path.name, "out.csv.gz", "\\N")
else:
    names = files.arrow_schema(store, path.name).names
    body = gzip.compress(b"".join(files.csv_chunks(store, path.name, names, hex_prefix="")))
    store.put("out.csv.gz", body)
    size = len(body)
print(json.dumps({"how": how, "seconds": round(time.perf_counter() - started, 2), "gz_bytes": size,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parquet", type=Path)
    p.add_argument("--pairs", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d) / args.parquet.name
        work.symlink_to(args.parquet.resolve())
        for _ in range(args.pairs):
            for how in ("whole", "stream"):
                done = subprocess.run([sys.executable, "-c", CHILD, how, str(work), d], capture_output=True, text=True, check=True)
                print(json.dumps(json.loads(done.stdout.strip().splitlines()[-1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
