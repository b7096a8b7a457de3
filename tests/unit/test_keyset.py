"""Keyset pagination logic: the clauses of sources/keyset.py, run against an in-memory SQLite table
(which orders NULLs first ascending, as MySQL does), the JSON-safe Position values and the MySQL
parameters they turn back into, and MySQL's ENUM/SET comparisons in the order those types sort."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from decimal import Decimal

from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.sources.base import InitialScan, Position
from s3rb_tui.engine.sources.keyset import KeyRules, Keyset, enum_labels, enum_number, json_safe, mysql_keyset, mysql_param, set_mask
from s3rb_tui.engine.core.table_names import TableRef, quote_sql


SQLITE = KeyRules(quote_sql, "?")


def _schema(pk: tuple[str, ...]) -> TableSchema:
    cols = tuple(Column(n, "int") for n in pk) + (Column("updated_at", "int"),)
    return TableSchema(TableRef("db", "t"), cols, primary_key=pk, cursor_column="updated_at")


def _table(rows: list[tuple]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a INTEGER, b INTEGER, updated_at INTEGER, PRIMARY KEY (a, b))")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return db


def _paginate(db, schema: TableSchema, start: Position, upper, batch: int) -> tuple[list[tuple], list[Position]]:
    order = ", ".join(quote_sql(c) for c in schema.order_columns)
    cols = ", ".join(quote_sql(c) for c in schema.order_columns)
    out, ends, pos = [], [], start
    while True:
        where, params = Keyset(schema, SQLITE).after(pos, upper)
        rows = db.execute(f"SELECT {cols} FROM t WHERE {where} ORDER BY {order} LIMIT {batch}", params).fetchall()
        if not rows:
            return out, ends
        out.extend(rows)
        last = rows[-1]
        pos = Position(cursor=last[0], key=tuple(last[1:]), nulls_done=last[0] is not None)
        ends.append(pos)
        if len(rows) < batch:
            return out, ends


def _rows(n: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    # few distinct cursor values (many ties), some NULL cursors, composite keys
    return [(i // 10, i % 10, rnd.choice([None, 5, 5, 5, 7, 9])) for i in range(n)]


def test_every_row_once_in_order_with_ties_and_null_cursors():
    rows = _rows(1234)
    db = _table(rows)
    schema = _schema(("a", "b"))
    got, _ = _paginate(db, schema, Position(), 100, batch=50)
    expected = sorted(((c, a, b) for a, b, c in rows), key=lambda r: (r[0] is not None, r[0] or 0, r[1], r[2]))
    assert got == expected
    assert len(set(got)) == len(rows)


def test_resume_from_every_batch_edge_gives_exactly_the_remainder():
    rows = _rows(300, seed=3)
    db = _table(rows)
    schema = _schema(("a", "b"))
    full, ends = _paginate(db, schema, Position(), 100, batch=17)
    taken = 0
    for end in ends[:-1]:
        taken += 17
        rest, _ = _paginate(db, schema, end, 100, batch=17)
        assert full[:taken] + rest == full


def test_null_cursor_rows_only_from_the_start():
    rows = _rows(200, seed=5)
    db = _table(rows)
    schema = _schema(("a", "b"))
    nulls = sum(1 for r in rows if r[2] is None)
    first, _ = _paginate(db, schema, Position(), 100, batch=1000)
    assert sum(1 for r in first if r[0] is None) == nulls
    later, _ = _paginate(db, schema, Position(nulls_done=True), 100, batch=1000)
    assert all(r[0] is not None for r in later)
    assert len(later) == len(rows) - nulls
    after_five, _ = _paginate(db, schema, Position(cursor=5, key=None, nulls_done=True), 100, batch=1000)
    assert {r[0] for r in after_five} == {7, 9}


def test_upper_bound_excludes_later_rows_and_none_means_unbounded():
    db = _table(_rows(200, seed=9))
    schema = _schema(("a", "b"))
    bounded, _ = _paginate(db, schema, Position(nulls_done=True), 7, batch=33)
    assert bounded and max(r[0] for r in bounded) == 7
    unbounded, _ = _paginate(db, schema, Position(nulls_done=True), None, batch=33)
    assert max(r[0] for r in unbounded) == 9


def test_cursor_that_is_the_primary_key():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (updated_at INTEGER PRIMARY KEY)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1, 101)])
    schema = TableSchema(TableRef("db", "t"), (Column("updated_at", "int"),), primary_key=("updated_at",), cursor_column="updated_at")
    got, ends = _paginate(db, schema, Position(), None, batch=30)
    assert [r[0] for r in got] == list(range(1, 101))
    assert ends[0].key == ()


def test_positions_survive_a_json_round_trip():
    values = {
        "datetime": dt.datetime(2026, 1, 2, 3, 4, 5, 6),
        "date": dt.date(2026, 1, 2),
        "decimal": Decimal("12345678901234567890.123456789"),
        "binary": b"\x00\xff\x80",
        "bigint": 18446744073709551615,
    }
    safe = json.loads(json.dumps({k: json_safe(v) for k, v in values.items()}))
    assert safe["datetime"] == "2026-01-02 03:04:05.000006"
    assert safe["date"] == "2026-01-02"
    assert safe["bigint"] == 18446744073709551615
    assert mysql_param(Column("k", "decimal", precision=29, scale=9), safe["decimal"]) == values["decimal"]
    assert mysql_param(Column("k", "varbinary"), safe["binary"]) == values["binary"]
    assert mysql_param(Column("k", "datetime"), safe["datetime"]) == "2026-01-02 03:04:05.000006"


def _scan(db, schema: TableSchema, after, upper, batch: int) -> list[tuple]:
    """An initial scan in primary-key order, page by page from ``after``."""
    cols = ", ".join(quote_sql(c) for c in schema.order_columns)
    out = []
    while True:
        keyset = Keyset(schema, SQLITE)
        where, params = keyset.scan_after(after, upper)
        rows = db.execute(f"SELECT a, b, {cols} FROM t WHERE {where} ORDER BY {keyset.key_order_by()} LIMIT {batch}",
                          params).fetchall()
        if not rows:
            return out
        out.extend(rows)
        after = rows[-1][:2]


def test_scan_predicate_takes_every_row_up_to_the_bound_once_in_key_order():
    rng = random.Random(7)
    rows = [(a, b, rng.choice([None, 10, 20, 30, 40])) for a in range(12) for b in range(5)]
    rng.shuffle(rows)
    db = _table(rows)
    schema = _schema(("a", "b"))
    for batch in (1, 4, 7, 100):
        got = _scan(db, schema, None, 30, batch)
        assert [r[:2] for r in got] == sorted((a, b) for a, b, u in rows if u is None or u <= 30)
        resumed = _scan(db, schema, (5, 2), 30, batch)  # from a position kept in the middle
        assert [r[:2] for r in resumed] == sorted((a, b) for a, b, u in rows if (u is None or u <= 30) and (a, b) > (5, 2))
    assert len(_scan(db, schema, None, None, 9)) == 60  # no bound: every row


def test_initial_scan_survives_json_and_a_scan_position_is_not_a_start():
    scan = InitialScan(upper_bound="2026-01-01 00:00:00.000000", after_key=(3, "x"))
    assert InitialScan.from_json(json.loads(json.dumps(scan.to_json()))) == scan
    assert InitialScan.from_json(InitialScan(upper_bound=1299).to_json()) == InitialScan(upper_bound=1299)
    assert Position().is_start and not Position(scan=scan).is_start


def test_mysql_params_are_numbers_for_numbers_whatever_form_the_position_kept():
    assert mysql_param(Column("k", "bigint", unsigned=True), "18446744073709551615") == 18446744073709551615
    assert mysql_param(Column("k", "bigint", unsigned=True), Decimal("9007199254740993")) == 9007199254740993
    assert mysql_param(Column("k", "bit", precision=64), "18446744073709551615") == 18446744073709551615
    assert mysql_param(Column("k", "float"), 1.0000001192092896) == 1.0000001192092896
    assert mysql_param(Column("k", "time"), "-838:59:59") == "-838:59:59"


def test_enum_labels_as_information_schema_writes_them():
    column_type = "enum('it''s','a\\\\b','c,d','','x y')"  # COLUMN_TYPE doubles quotes and backslashes
    assert enum_labels(column_type) == ("it's", "a\\b", "c,d", "", "x y")
    assert [enum_number(column_type, v) for v in ("it's", "a\\b", "")] == [1, 2, 4]
    assert enum_number("enum('zulu','alpha')", "") == 0  # MySQL's error value sorts first
    assert [set_mask("set('b','a','c')", v) for v in ("", "b", "a", "b,a", "c", "b,a,c")] == [0, 1, 2, 3, 4, 7]


def _mysql_schema(key: Column) -> TableSchema:
    return TableSchema(TableRef("db", "t"), (key, Column("n", "int"), Column("updated_at", "datetime")),
                       primary_key=(key.name, "n"), cursor_column="updated_at")


def test_mysql_enum_and_set_keys_are_compared_in_the_order_they_sort():
    enum = _mysql_schema(Column("k", "enum", "enum('zulu','alpha','mike')"))
    where, params = mysql_keyset(enum).key_after(("k", "n"), ("alpha", 7))
    assert where == "((`db`.`t`.`k` IN (%s)) OR (`db`.`t`.`k` = %s AND `db`.`t`.`n` > %s))"
    assert params == ["mike", "alpha", 7]
    assert mysql_keyset(enum).key_after(("k",), ("mike",)) == ("((1 = 0))", [])  # nothing sorts after the last label
    sets = _mysql_schema(Column("k", "set", "set('b','a','c')"))
    where, params = mysql_keyset(sets).key_after(("k", "n"), ("b,a", 7))
    assert where == "((`db`.`t`.`k` > %s) OR (`db`.`t`.`k` = %s AND `db`.`t`.`n` > %s))"
    assert params == [3, "b,a", 7]


def test_mysql_order_and_comparison_name_the_table_column_never_a_select_alias():
    keyset = mysql_keyset(_mysql_schema(Column("k", "time")))
    assert keyset.order_by() == "`db`.`t`.`updated_at`, `db`.`t`.`k`, `db`.`t`.`n`"
    assert keyset.order_by(descending=True) == "`db`.`t`.`updated_at` DESC, `db`.`t`.`k` DESC, `db`.`t`.`n` DESC"
    assert keyset.key_order_by() == "`db`.`t`.`k`, `db`.`t`.`n`"
    where, _ = keyset.after(Position(cursor="2024-01-01 00:00:00.000000", key=("-01:00:00", 3), nulls_done=True), None)
    assert "`k`" not in where.replace("`db`.`t`.`k`", "")


def test_a_cursor_set_in_s3rb_toml_compares_in_its_order_too():
    schema = TableSchema(TableRef("db", "t"), (Column("id", "int"), Column("stage", "enum", "enum('new','paid','shipped')")),
                         primary_key=("id",), cursor_column="stage")
    where, params = mysql_keyset(schema).after(Position(cursor="paid", key=(7,), nulls_done=True), None)
    assert where == "(`db`.`t`.`stage` IN (%s) OR (`db`.`t`.`stage` = %s AND ((`db`.`t`.`id` > %s))))"
    assert params == ["shipped", "paid", 7]


def test_the_row_and_arrow_position_trackers_agree():
    """The pymysql and SQLite paths track positions over driver rows, the connectorx path over Arrow
    columns: one batch gives one position either way (keyset, initial scan, snapshot latest)."""
    import pyarrow as pa

    from s3rb_tui.engine.sources.keyset import MYSQL_KEYS, ArrowPositions, RowPositions

    cols = (Column("id", "bigint"), Column("code", "varbinary"), Column("updated_at", "datetime", precision=6))
    rows = [(3, b"\x01", None), (1, b"\x02", dt.datetime(2024, 1, 2, 3, 4, 5)), (2, b"\xff", dt.datetime(2024, 1, 2, 3, 4, 5, 60))]
    arrays = [pa.array([r[i] for r in rows]) for i in range(3)]
    incremental = TableSchema(TableRef("db", "t"), cols, primary_key=("id", "code"), cursor_column="updated_at")
    snapshot = TableSchema(TableRef("db", "t"), cols, primary_key=(), cursor_column="updated_at")
    scan = InitialScan("2024-01-03 00:00:00.000000", (0, "00"))
    for schema, at in ((incremental, None), (incremental, scan), (snapshot, None)):
        by_rows, by_arrow = RowPositions(schema, MYSQL_KEYS), ArrowPositions(schema, MYSQL_KEYS)
        assert by_rows.end(rows, at) == by_arrow.end(arrays, at)
    assert RowPositions(incremental, MYSQL_KEYS).end(rows) == (
        Position(cursor="2024-01-02 03:04:05.000060", key=(2, "ff"), nulls_done=True), 1)
    assert RowPositions(incremental, MYSQL_KEYS).end(rows, scan)[0] == Position(scan=InitialScan(scan.upper_bound, (2, "ff")))
    assert RowPositions(snapshot, MYSQL_KEYS).end(rows) == (
        Position(cursor="2024-01-02 03:04:05.000060", key=None, nulls_done=True), 0)
