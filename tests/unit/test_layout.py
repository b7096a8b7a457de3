import datetime as dt

from s3rb_tui.engine.stores.layout import FilePosition, data_key, lock_key, parse_data_key, table_prefix, watermark_key
from s3rb_tui.engine.core.table_names import TableRef

T = TableRef("settlement", "settlement_normal_delivery_detail")


def test_manual_layout_exactly():
    key = data_key("incremental/", T, dt.datetime(2025, 7, 28, 20, 12, 3, tzinfo=dt.timezone.utc), 1)
    assert key == ("incremental/settlement.settlement_normal_delivery_detail/year=2025/month=07/day=28/hour=20/"
                   "2025-07-28_20-12-03_batch_0001.parquet")
    parsed = parse_data_key(key)
    assert parsed.table == T.full_name
    assert parsed.position == FilePosition("2025-07-28_20-12-03", 1)


def test_run_start_is_partitioned_in_utc():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    key = data_key("incremental/", T, dt.datetime(2025, 7, 28, 1, 0, 0, tzinfo=plus2), 12)
    assert "/day=27/hour=23/2025-07-27_23-00-00_batch_0012.parquet" in key


def test_positions_order_by_run_then_batch():
    assert FilePosition("2025-07-28_20-12-03", 2) < FilePosition("2025-07-28_20-12-03", 10)
    assert FilePosition("2025-07-28_20-12-03", 999) < FilePosition("2025-07-28_20-12-04", 1)


def test_prefix_is_the_tables_own():
    assert table_prefix("incremental", TableRef("a", "b")) == "incremental/a.b/"
    assert not "incremental/a.bc/x".startswith(table_prefix("incremental/", TableRef("a", "b")))


def test_foreign_or_inconsistent_keys_are_not_data_files():
    assert parse_data_key("incremental/a.b/year=2025/month=07/day=28/hour=20/notes.txt") is None
    assert parse_data_key("incremental/a.b/year=2025/month=07/day=28/hour=21/2025-07-28_20-12-03_batch_0001.parquet") is None


def test_watermark_and_lock_keys():
    assert watermark_key(T) == "watermark/settlement.settlement_normal_delivery_detail.json"
    assert lock_key(T) == "watermark/locks/settlement.settlement_normal_delivery_detail.lock"
