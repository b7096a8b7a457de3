"""scripts/redshift_smoke.py, run here against PostgreSQL through the Redshift stand-in so that it
does not rot: every rule PostgreSQL can answer passes, the cluster-only ones say SKIP, and the
script leaves nothing behind (scratch MySQL databases, warehouse schemas, files in the bucket)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import mariadb

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_smoke_script_passes_on_the_postgresql_stand_in_and_cleans_up(mysql_server, pg_db, make_env, s3_client, s3_bucket, tmp_path):
    env = make_env(WAREHOUSE_DIALECT="redshift", DB_DATABASE="")
    before = _smoke_databases(mysql_server)  # a teammate's run (or one killed mid-way) may hold its own
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "redshift_smoke.py"), "--postgres-stand-in",
                           "--sakila-dir", str(mariadb.sakila_dir()), "--batch-size", "4000"],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true", **env},
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    rules = [ln for ln in lines if ln[:4] in ("PASS", "FAIL", "SKIP")]
    assert not [ln for ln in rules if ln.startswith("FAIL")]
    for fmt in ("parquet", "csv"):
        for rule in ("BIGINT UNSIGNED and BIT(64) are decimal(20,0) in the files", "every value of edge equals MySQL",
                     "every value of rental equals MySQL", "every value of MixedCase equals MySQL", "the ledger lists every rental file once",
                     "merge: rental holds the updated rows, once each", "a column added at the source loads"):
            assert any(ln.startswith(f"PASS  [{fmt}] {rule}") for ln in rules), (fmt, rule, done.stdout[-3000:])
    assert [ln.split(":")[0] for ln in rules if ln.startswith("SKIP")] == [
        "SKIP  the session runs with enable_case_sensitive_identifier off", "SKIP  SYS_LOAD_ERROR_DETAIL is readable",
        *(f"SKIP  [{fmt}] verify on Redshift's checksum SQL (STRTOL, FROM_VARBYTE, CONVERT_TIMEZONE)" for fmt in ("parquet", "csv"))]
    assert "Sakila's rental" in done.stdout
    # nothing left behind
    left = s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert [o["Key"] for o in left] == []
    assert _smoke_databases(mysql_server) - before == set()


def _smoke_databases(mysql_server) -> set[str]:
    """The scratch MySQL databases smoke runs create (``s3rb_smoke_<id>_<method>``)."""
    conn = mariadb.connect(mysql_server)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE 's3rb\\\\_smoke\\\\_%'")
            return {r[0] for r in cur.fetchall() if r[0].startswith("s3rb_smoke_")}
    finally:
        conn.close()
