import os
from pathlib import Path

import pytest

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.settings import VARIABLES, env_example, load_settings


def test_env_file_then_environment_wins(tmp_path: Path):
    f = tmp_path / ".env"
    f.write_text("DB_HOST=from-file\nDB_PORT=3307\nS3_BUCKET_NAME=b\n")
    f.chmod(0o600)
    s = load_settings(environ={"DB_HOST": "from-env"}, cwd=tmp_path)
    assert s.str("DB_HOST") == "from-env"
    assert s.int("DB_PORT") == 3307
    assert s.sources["DB_PORT"] == ".env"
    assert s.problems == ()
    assert s.warnings == ()


def test_group_readable_env_file_warns_like_libpq(tmp_path: Path):
    f = tmp_path / ".env"
    f.write_text("S3_BUCKET_NAME=b\n")
    f.chmod(0o644)
    s = load_settings(environ={}, cwd=tmp_path)
    assert any("chmod 600" in w for w in s.warnings)


def test_missing_explicit_env_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.env", environ={})


def test_problems_name_the_variable_and_the_fix(tmp_path: Path):
    s = load_settings(environ={"DB_PORT": "abc", "BACKUP_BATCH_SIZE": "0", "WAREHOUSE_DIALECT": "oracle", "S3_ACCESS_KEY": "AK"}, cwd=tmp_path)
    text = " | ".join(s.problems)
    assert "DB_PORT='abc' is not a whole number" in text
    assert "BACKUP_BATCH_SIZE=0 must be at least 1" in text
    assert "WAREHOUSE_DIALECT='oracle'" in text
    assert "S3_ACCESS_KEY and S3_SECRET_KEY must be set together" in text
    assert "S3_BUCKET_NAME is empty" in text


def test_empty_passwords_are_valid(tmp_path: Path):
    s = load_settings(environ={"DB_PASSWORD": "", "REDSHIFT_PASSWORD": "", "S3_BUCKET_NAME": "b"}, cwd=tmp_path)
    assert s.problems == ()


def test_masked_view_never_shows_secrets(tmp_path: Path):
    s = load_settings(environ={"DB_PASSWORD": "hunter2-secret", "S3_SECRET_KEY": "sk-123456", "S3_ACCESS_KEY": "AK", "S3_BUCKET_NAME": "b"}, cwd=tmp_path)
    shown = repr(s.masked())
    assert "hunter2-secret" not in shown and "sk-123456" not in shown
    assert ("DB_PASSWORD", "****", "environment") in s.masked()
    assert "hunter2-secret" in s.secrets


def test_env_example_documents_every_variable_with_its_default():
    text = env_example()
    for v in VARIABLES:
        assert f"\n{v.name}={v.default}\n" in text
    committed = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    assert committed == text, "regenerate .env.example: python -c 'import s3rb_tui.settings as s; print(s.env_example(), end=\"\")' > .env.example"


def test_incremental_path_gets_a_trailing_slash(tmp_path: Path):
    s = load_settings(environ={"S3_INCREMENTAL_PATH": "incr", "S3_BUCKET_NAME": "b"}, cwd=tmp_path)
    assert s.str("S3_INCREMENTAL_PATH") == "incr/"


def test_duckdb_memory_limit_is_checked_and_reaches_the_connection(tmp_path: Path):
    from s3rb_tui.engine.warehouses.duckdb import DuckDBWarehouse

    base = {"S3_BUCKET_NAME": "b", "WAREHOUSE_DIALECT": "duckdb", "DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    bad = load_settings(environ={**base, "DUCKDB_MEMORY_LIMIT": "256"}, cwd=tmp_path)
    assert any("DUCKDB_MEMORY_LIMIT='256' is not a size (use e.g. 256MB or 2GB" in p for p in bad.problems)
    for value, shown in (("200MiB", "200.0 MiB"), ("1 GB", "953.6 MiB")):
        s = load_settings(environ={**base, "DUCKDB_MEMORY_LIMIT": value}, cwd=tmp_path)
        assert s.problems == ()
        wh = DuckDBWarehouse(s)
        try:
            assert wh.scalar("SELECT current_setting('memory_limit')") == shown
        finally:
            wh.close()


def test_num_chunks_auto_is_one_connection_per_cpu_up_to_four():
    from s3rb_tui.engine.core.batch_sizes import auto_chunks

    assert [auto_chunks(n) for n in (1, 2, 3, 4, 8, 32)] == [1, 2, 3, 4, 4, 4]
    default = load_settings(environ={"S3_BUCKET_NAME": "b"}, cwd=Path("/nonexistent"))
    assert default.str("BACKUP_NUM_CHUNKS") == "auto"
    assert default.int("BACKUP_NUM_CHUNKS") == auto_chunks() == min(4, len(os.sched_getaffinity(0)))
    spelled = load_settings(environ={"S3_BUCKET_NAME": "b", "BACKUP_NUM_CHUNKS": " AUTO "}, cwd=Path("/nonexistent"))
    assert spelled.problems == () and spelled.int("BACKUP_NUM_CHUNKS") == auto_chunks()
    assert load_settings(environ={"S3_BUCKET_NAME": "b", "BACKUP_NUM_CHUNKS": "3"}, cwd=Path("/nonexistent")).int("BACKUP_NUM_CHUNKS") == 3
    bad = load_settings(environ={"S3_BUCKET_NAME": "b", "BACKUP_NUM_CHUNKS": "many"}, cwd=Path("/nonexistent"))
    assert bad.problems == ("BACKUP_NUM_CHUNKS='many' is not a whole number or auto (set it to e.g. 2, or auto)",)
    # only the variables that say so take auto
    other = load_settings(environ={"S3_BUCKET_NAME": "b", "BACKUP_BATCH_SIZE": "auto"}, cwd=Path("/nonexistent"))
    assert other.problems == ("BACKUP_BATCH_SIZE='auto' is not a whole number (set it to e.g. 50000)",)
