import json

import pytest

from s3rb_tui.engine.core.errors import WatermarkError
from s3rb_tui.engine.stores.layout import FilePosition
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import Watermark, WatermarkStore

T = TableRef("s", "t")


def commit(wm, session, rows, files, batch):
    return wm.with_backup_commit(session_id=session, strategy="sequential", rows=rows, files=files,
                                 position=FilePosition("2025-01-01_00-00-00", batch), last_data_timestamp="2025-01-01 00:00:00",
                                 last_key=[batch], nulls_done=True, status="success")


def test_same_session_replaces_new_session_accumulates():
    wm = Watermark(table="s.t")
    wm = commit(wm, "run1", 100, ["f1"], 1)
    wm = commit(wm, "run1", 250, ["f1", "f2"], 2)  # same session: replaces its own contribution
    assert (wm.session.extracted, wm.cumulative.extracted, wm.files_written_total) == (250, 250, 2)
    wm = commit(wm, "run2", 40, ["f3"], 1)  # new session: accumulates
    assert (wm.session.extracted, wm.cumulative.extracted, wm.files_written_total) == (40, 290, 3)
    wm = wm.with_load_commit(session_id="load1", rows=290, files=["f1", "f2", "f3"], status="success")
    wm = wm.with_load_commit(session_id="load1", rows=290, files=["f1", "f2", "f3"], status="success")
    assert (wm.session.loaded, wm.cumulative.loaded, wm.files_loaded_total) == (290, 290, 3)


def test_manual_set_and_reset_keep_the_file_history():
    wm = commit(Watermark(table="s.t"), "run1", 100, ["f1"], 7)
    manual = wm.with_manual_timestamp("2025-08-09 20:00:01")
    assert (manual.backup_strategy, manual.last_data_timestamp, manual.last_key) == ("manual_cli", "2025-08-09 20:00:01", None)
    assert manual.last_extraction_time is None
    reset = manual.with_reset()
    assert reset.last_data_timestamp is None and reset.cumulative.extracted == 0
    assert reset.committed_through == "2025-01-01_00-00-00_batch_0007"


def test_counts_absolute_and_additive_update_both_sides():
    wm = Watermark(table="s.t").with_counts(8_500_000, "absolute")
    assert (wm.cumulative.extracted, wm.cumulative.loaded) == (8_500_000, 8_500_000)
    wm = wm.with_counts(500_000, "additive")
    assert (wm.cumulative.extracted, wm.cumulative.loaded) == (9_000_000, 9_000_000)


def test_store_roundtrip_and_compare_and_swap(tmp_path):
    ws = WatermarkStore(LocalStore(tmp_path))
    assert ws.read(T) == (None, None)
    etag = ws.write(Watermark(table="s.t"), None)
    wm, etag2 = ws.read(T)
    assert wm == Watermark(table="s.t", updated_at=wm.updated_at) and etag2 == etag
    ws.write(wm.with_counts(5, "absolute"), etag)
    with pytest.raises(Exception, match="changed by someone else"):
        ws.write(wm.with_counts(6, "absolute"), etag)  # stale etag: lost race
    assert ws.get(T).cumulative.extracted == 5


@pytest.mark.parametrize("body,msg", [
    (b"{not json", "corrupt"),
    (json.dumps({"version": 99, "table": "s.t"}).encode(), "unknown version 99"),
    (json.dumps([1, 2]).encode(), "not a JSON object"),
    (json.dumps({"version": 1, "table": "other.t"}).encode(), "names table"),
])
def test_bad_documents_are_errors_never_a_silent_reload(tmp_path, body, msg):
    store = LocalStore(tmp_path)
    store.put("watermark/s.t.json", body)
    with pytest.raises(WatermarkError, match=msg):
        WatermarkStore(store).get(T)


def test_an_initial_scan_in_progress_is_kept_shown_and_cleared_by_set_and_reset():
    scan = {"upper_bound": "2026-01-01 00:00:00.000000", "after_key": [250]}
    wm = Watermark(table="s.t").with_backup_commit(
        session_id="run1", strategy="sequential", rows=250, files=["f1"], position=FilePosition("2025-01-01_00-00-00", 1),
        last_data_timestamp=None, last_key=None, nulls_done=False, status="running", initial_scan=scan)
    assert Watermark.from_json("s.t", json.loads(json.dumps(wm.to_json()))).initial_scan == scan
    assert wm.summary()["initial_scan"] == scan
    assert wm.initial_scan_text() == "in progress in primary-key order, through key 250; rows up to 2026-01-01 00:00:00.000000"
    assert wm.with_manual_timestamp("2025-08-09 20:00:01").initial_scan is None
    assert wm.with_reset().initial_scan is None
    done = commit(wm, "run1", 500, ["f1", "f2"], 2)  # the scan's last batch commits a keyset position
    assert done.initial_scan is None and done.initial_scan_text() is None


def test_a_long_first_backup_keeps_its_watermark_document_small(tmp_path):
    """A commit after every file: the document no longer lists the session's files (10,000 of them
    made a 1.34 MB document, written 10,000 times), yet the totals stay exact."""
    store = WatermarkStore(LocalStore(tmp_path))
    keys = [f"incremental/s.t/year=2025/month=01/day=01/hour=00/2025-01-01_00-00-00_batch_{i:05d}.parquet" for i in range(1, 10_001)]
    wm = commit(Watermark(table="s.t"), "run1", 10_000 * 10_000, keys, 10_000)
    assert (wm.files_written_total, wm.session_files_written_count) == (10_000, 10_000)
    store.write(wm, None)
    data = json.loads(store.store.get("watermark/s.t.json")[0])
    assert len(json.dumps(data)) < 5_000 and data["session_files_written"] == []
    again = commit(Watermark.from_json("s.t", data), "run1", 1, keys + ["one more"], 10_001)  # the same session goes on
    assert again.files_written_total == 10_001


def test_a_document_that_still_lists_its_session_files_counts_them():
    """Written before the count: the session's list is what the same session replaces."""
    old = Watermark.from_json("s.t", {**Watermark(table="s.t").to_json(), "backup_session_id": "run1", "files_written_total": 5,
                                      "session_files_written": ["f3", "f4", "f5"]})
    wm = commit(old, "run1", 10, ["f3", "f4", "f5", "f6"], 6)
    assert wm.files_written_total == 6
    assert commit(old, "run2", 10, ["g1"], 1).files_written_total == 6  # a new session adds to the total
