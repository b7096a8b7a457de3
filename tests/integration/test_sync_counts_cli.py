"""sync and watermark-count through the CLI: connection errors name the server but never the
password; set-count validates its input and updates both counts; validate-counts reacts."""

from __future__ import annotations

import json

from tests.support import postgres
from tests.support.waiting import free_port


def test_unreachable_warehouse_names_host_port_user_never_password(sakila_db, pg_db, make_env, run_cli, tmp_path):
    (tmp_path / "store").mkdir()
    port = free_port()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}", REDSHIFT_PORT=str(port), REDSHIFT_PASSWORD="Sup3r-s3cret-pw")
    done = run_cli("--run", "sync", "-t", "actor", env=env)
    assert done.returncode == 1
    assert f"cannot connect to the warehouse at 127.0.0.1:{port} as user postgres" in done.stdout
    assert "Sup3r-s3cret-pw" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_set_count_and_validate_counts(sakila_db, pg_db, make_env, run_cli, tmp_path):
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    assert run_cli("--run", "sync", "-t", "actor", "-t", "film_text", env=env).returncode == 0

    for bad in ("-5", "1.5", "many"):
        done = run_cli("--run", "watermark-count", "set-count", "-t", "actor", "--count", bad, env=env)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    missing = run_cli("--run", "watermark-count", "set-count", "-t", "actor", env=env)
    assert missing.returncode == 2 and "--count" in missing.stderr

    ok = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", "-t", "film_text", "--json", env=env)
    assert ok.returncode == 0, ok.stdout
    report = json.loads(ok.stdout)
    actor = report["tables"][0]
    assert (actor["watermark"]["extracted"], actor["watermark"]["loaded"], actor["files"]["rows"],
            actor["warehouse"]["rows"], actor["warehouse"]["distinct_keys"], actor["source"]["rows"]) == (200, 200, 200, 200, 200, 200)
    assert report["tables"][1]["mode"] == "replace"

    wrong = run_cli("--run", "watermark-count", "set-count", "-t", "actor", "--count", "150", "--mode", "additive", "--force", env=env)
    assert wrong.returncode == 0 and "350" in wrong.stdout
    got = json.loads(run_cli("--run", "watermark", "get", "-t", "actor", "--json", env=env).stdout)
    assert got["cumulative"] == {"extracted": 350, "loaded": 350}
    flagged = run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env)
    assert flagged.returncode == 1 and "set-count --count 200" in flagged.stdout

    fixed = run_cli("--run", "watermark-count", "set-count", "-t", "actor", "--count", "200", "--mode", "absolute", "--force", env=env)
    assert fixed.returncode == 0
    assert run_cli("--run", "watermark-count", "validate-counts", "-t", "actor", env=env).returncode == 0


def test_verify_data_exits_1_on_a_mismatch(sakila_db, pg_db, make_env, run_cli, tmp_path):
    (tmp_path / "store").mkdir()
    env = make_env(STORE_URL=f"file://{tmp_path / 'store'}")
    clean = run_cli("--run", "sync", "-t", "actor", "--verify-data", "--json", env=env)
    assert clean.returncode == 0, clean.stdout[-2000:]
    verification = json.loads(clean.stdout)["tables"][0]["details"]["load"]["details"]["verification"]
    assert verification["unexpected"] == [] and verification["warehouse"]["rows"] == 200

    conn = postgres.connect(pg_db, pg_db["dbname"])
    with conn.cursor() as cur:
        cur.execute("DELETE FROM public.actor WHERE actor_id IN (3, 4)")
    conn.close()
    broken = run_cli("--run", "sync", "-t", "actor", "--redshift-only", "--verify-data", env=env)
    assert broken.returncode == 1
    assert "verification failed" in broken.stdout and "rows are missing in the warehouse" in broken.stdout
