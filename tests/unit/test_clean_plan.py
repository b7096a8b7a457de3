"""Clean plans on a real local-directory store: what is selected, what is kept, and bad input."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from s3rb_tui.engine.core.events import Progress
from s3rb_tui.engine.ops.clean import execute_clean, plan_clean, plan_retention, validate_pattern
from s3rb_tui.engine.state.ledger import summarize
from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.core.jobs import JobContext
from s3rb_tui.engine.stores.layout import data_key, table_prefix
from s3rb_tui.engine.stores.local import LocalStore
from s3rb_tui.engine.core.table_names import TableRef

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
INC = "incremental/"
AB = TableRef("a", "b")
ABC = TableRef("a", "bc")


def put(store: LocalStore, key: str, size: int, age: dt.timedelta) -> str:
    store.put(key, b"x" * size)
    when = (NOW - age).timestamp()
    os.utime(store._path(key), (when, when))
    return key


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "store")
    day = dt.timedelta(days=1)
    # a.b: batches 1..4 of a run 10 days ago, batches 1..2 of a run 1 hour ago
    for batch in range(1, 5):
        put(s, data_key(INC, AB, NOW - 10 * day, batch), 100, 10 * day)
    for batch in range(1, 3):
        put(s, data_key(INC, AB, NOW - dt.timedelta(hours=1), batch), 10, dt.timedelta(hours=1))
    # neighbours that must never be touched
    put(s, data_key(INC, ABC, NOW - 10 * day, 1), 1000, 10 * day)
    put(s, f"{table_prefix(INC, AB)}notes.txt", 5, 10 * day)
    put(s, "watermark/a.b.json", 5, 10 * day)
    return s


def old_keys(store) -> list[str]:
    return [data_key(INC, AB, NOW - dt.timedelta(days=10), b) for b in range(1, 5)]


def test_plan_selects_only_this_tables_parquet_files(store):
    plan = plan_clean(store, INC, AB, loaded_keys=None, now=NOW)
    assert all(k.startswith("incremental/a.b/") and k.endswith(".parquet") for k in plan.keys)
    assert len(plan.keys) == 6 and plan.bytes == 4 * 100 + 2 * 10
    assert not plan.status_known  # no warehouse in use: loaded/unloaded does not apply


def test_older_than_keeps_recent_files(store):
    plan = plan_clean(store, INC, AB, older_than=dt.timedelta(days=7), loaded_keys=None, now=NOW)
    assert plan.keys == old_keys(store)
    assert plan.not_matching == 2


def test_unloaded_files_are_kept_unless_asked(store):
    loaded = set(old_keys(store)[:2])
    plan = plan_clean(store, INC, AB, older_than=dt.timedelta(days=7), loaded_keys=loaded, now=NOW)
    assert set(plan.keys) == loaded
    assert (plan.loaded, plan.unloaded, plan.skipped_unloaded, plan.skipped_unloaded_bytes) == (2, 0, 2, 200)
    everything = plan_clean(store, INC, AB, older_than=dt.timedelta(days=7), loaded_keys=loaded,
                            include_unloaded=True, now=NOW)
    assert everything.keys == old_keys(store)
    assert (everything.loaded, everything.unloaded, everything.skipped_unloaded) == (2, 2, 0)


@pytest.mark.parametrize("pattern, batches", [
    ("*_batch_000[1-2].parquet", 2 + 2),
    ("batch_0004*", 1),
    ("batch_*", 6),
    ("*.parquet", 6),
    ("year=2024/month=02/*/*/*", 4),
])
def test_patterns_match_file_names_or_paths(store, pattern, batches):
    plan = plan_clean(store, INC, AB, pattern=pattern, loaded_keys=None, now=NOW)
    assert len(plan.keys) == batches


@pytest.mark.parametrize("pattern", ["", "  ", "[abc", "../a.bc/*", "/abs/*", "x\ny"])
def test_bad_patterns_are_usage_errors(pattern):
    with pytest.raises(UsageError):
        validate_pattern(pattern)


def test_execute_deletes_exactly_the_plan(store):
    plan = plan_clean(store, INC, AB, older_than=dt.timedelta(days=7), loaded_keys=None, now=NOW)
    events = []
    result = execute_clean(store, plan, JobContext("clean", sink=events.append))
    assert result.ok and result.deleted == 4 and result.bytes_freed == 400
    remaining = {o.key for o in store.list("")}
    assert not remaining & set(plan.keys)
    assert len([k for k in remaining if k.startswith("incremental/a.b/")]) == 3  # 2 recent + notes.txt
    assert any(k.startswith("incremental/a.bc/") for k in remaining)
    assert "watermark/a.b.json" in remaining
    assert [e.files for e in events if isinstance(e, Progress)] == [4]


@pytest.mark.parametrize("prefix", ["", "/", "//", "*", "watermark/", "watermark/locks/", "incremental/../", "inc*/"])
def test_retention_refuses_dangerous_prefixes(store, prefix):
    with pytest.raises(UsageError):
        plan_retention(store, prefix, 7, now=NOW)


def test_retention_plan_spans_tables_and_keeps_unloaded_files_of_loaded_tables(store):
    plan = plan_retention(store, "incremental", 7, now=NOW)
    assert len(plan.keys) == 5  # 4 of a.b, 1 of a.bc; never notes.txt or the watermark
    loaded = {"a.b": set(old_keys(store)[:1]), "a.bc": None}
    plan = plan_retention(store, "incremental/", 7, loaded_for=loaded.get, now=NOW)
    assert len(plan.keys) == 2 and plan.skipped_unloaded == 3


def test_summary_counts_files_bytes_days_and_load_status(store):
    objects = list(store.list(table_prefix(INC, AB)))
    s = summarize(table_prefix(INC, AB), "a.b", objects, set(old_keys(store)))
    assert (s.files, s.bytes, s.loaded, s.unloaded) == (6, 420, 4, 2)
    assert s.by_day == {"2024-02-29": {"files": 4, "bytes": 400}, "2024-03-10": {"files": 2, "bytes": 20}}
    assert s.oldest < s.newest
