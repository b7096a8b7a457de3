"""Golden SQL of an append table's repair on Redshift (no cluster: the exact statements), and the
``<table>_latest`` rule for ``<table>_deleted`` run on a real DuckDB: a deleted key is hidden until a
newer version arrives, NULL cursors cannot be ordered."""

from __future__ import annotations

import datetime as dt

import duckdb

from s3rb_tui.engine.warehouses.base import LoadFile, LoadSpec, Target, deleted_table_name
from s3rb_tui.engine.warehouses.redshift_sql import CopyUnit, batch_statements
from s3rb_tui.engine.warehouses.sql_views import latest_view

TARGET = Target("public", "events")
TABLE = [("id", "bigint"), ("status", "character varying(80)"), ("update_at", "timestamp without time zone")]
NOW = dt.datetime(2026, 12, 2, 15, 0, 0, 123456, tzinfo=dt.timezone.utc)
FILE = LoadFile("incremental/s.events/year=2026/month=12/day=02/hour=15/2026-12-02_15-00-00_batch_0001.parquet", 2, 100,
                ("id", "status", "update_at"), repair=True)


def copy_marker(dest, unit, columns):
    return f"<COPY {unit.seq} INTO {dest}>"


def test_redshift_append_repair_batch_statements():
    spec = LoadSpec("merge", ("ID",), "update_at", delete_keys=((30,), (31,)), history=True)
    assert batch_statements(TARGET, TABLE, spec, [CopyUnit((FILE,), "parquet", 0)], copy_marker, NOW) == [
        'CREATE TEMP TABLE "s3rb_stage" ("id" bigint, "status" character varying(80), "update_at" timestamp without time zone)',
        '<COPY 0 INTO "s3rb_stage">',
        # 1. <table>_deleted (no CREATE TABLE ... LIKE: the key and cursor types of the table); re-extracted keys leave it
        'CREATE TABLE IF NOT EXISTS "public"."events_deleted" (\n    "id" bigint,\n    "deleted_at" TIMESTAMPTZ,\n'
        '    "deleted_cursor" timestamp without time zone\n)',
        'DELETE FROM "public"."events_deleted" USING "s3rb_stage" WHERE "public"."events_deleted"."id" = "s3rb_stage"."id"',
        # 2. the deletes with the newest cursor the table holds (a literal time: CURRENT_TIMESTAMP is leader-node only)
        'INSERT INTO "public"."events_deleted" ("id", "deleted_at", "deleted_cursor")\n'
        "SELECT \"id\", CAST('2026-12-02 15:00:00.123456+00' AS TIMESTAMPTZ), MAX(\"update_at\") FROM \"public\".\"events\" "
        'WHERE ("id" = 30) OR ("id" = 31) GROUP BY "id"',
        # 3. only versions not older than the staged one are replaced; the rest is history
        'DELETE FROM "public"."events" USING "s3rb_stage" WHERE "public"."events"."id" = "s3rb_stage"."id" AND '
        '("public"."events"."update_at" >= "s3rb_stage"."update_at" OR "public"."events"."update_at" IS NULL OR "s3rb_stage"."update_at" IS NULL)',
        'INSERT INTO "public"."events" ("id", "status", "update_at")\n'
        'SELECT "id", "status", "update_at" FROM (\n'
        '    SELECT "id", "status", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "update_at" DESC) AS _s3rb_rn\n'
        '    FROM "s3rb_stage"\n'
        ") s WHERE _s3rb_rn = 1",
        'DROP TABLE "s3rb_stage"',
    ]


def _view(deleted: bool, replace: bool = True) -> str:
    return latest_view(TARGET, TARGET.sibling("events_latest"), ["id", "status", "update_at"], ("id",), "update_at", (),
                       replace=replace, deleted=deleted_table_name(TARGET) if deleted else None, primary_key=("id",))


def test_latest_view_without_deleted_table_is_as_before_and_with_it_a_plain_left_join():
    assert _view(False) == (
        'CREATE OR REPLACE VIEW "public"."events_latest" AS\n'
        'SELECT "id", "status", "update_at" FROM (\n'
        '    SELECT "id", "status", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "update_at" DESC NULLS LAST) AS _s3rb_rn\n'
        '    FROM "public"."events"\n'
        ") t WHERE _s3rb_rn = 1")
    # Redshift: no correlated subquery, no view options; the same columns, so CREATE OR REPLACE still works
    assert _view(True, replace=False) == (
        'CREATE VIEW "public"."events_latest" AS\n'
        'SELECT t."id", t."status", t."update_at" FROM (\n'
        '    SELECT "id", "status", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "update_at" DESC NULLS LAST) AS _s3rb_rn\n'
        '    FROM "public"."events"\n'
        ") t\n"
        'LEFT JOIN (\n    SELECT "id", COUNT(*) AS "_s3rb_n", COUNT("deleted_cursor") AS "_s3rb_with_cursor", MAX("deleted_cursor") AS "_s3rb_cursor"\n'
        '    FROM "public"."events_deleted" GROUP BY "id"\n) d ON d."id" = t."id"\n'
        'WHERE t._s3rb_rn = 1 AND (d."_s3rb_n" IS NULL OR (t."update_at" IS NOT NULL AND d."_s3rb_with_cursor" = d."_s3rb_n" '
        'AND t."update_at" > d."_s3rb_cursor"))')


def test_latest_view_hides_a_deleted_key_until_a_newer_version_arrives():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA public")
    con.execute("CREATE TABLE public.events (id BIGINT, status VARCHAR, update_at TIMESTAMP)")
    con.execute("CREATE TABLE public.events_deleted (id BIGINT, deleted_at TIMESTAMPTZ, deleted_cursor TIMESTAMP)")
    con.execute("INSERT INTO public.events VALUES (1, 'a', '2025-01-01'), (2, 'b', '2025-01-01'), (3, 'c', NULL), (4, 'd', '2025-01-01')")
    con.execute("INSERT INTO public.events_deleted VALUES (1, now(), '2025-01-01'), (3, now(), NULL), (4, now(), '2025-01-01'), (4, now(), NULL)")
    con.execute(_view(True))
    latest = lambda: dict(con.execute('SELECT id, status FROM public.events_latest').fetchall())  # noqa: E731
    assert latest() == {2: "b"}  # 1 deleted at its cursor; 3 NULL cursor; 4: a NULL deleted cursor hides every later one
    con.execute("INSERT INTO public.events VALUES (1, 'again', '2025-01-01 00:00:01'), (4, 'again', '2026-01-01')")
    assert latest() == {1: "again", 2: "b"}  # re-inserted with a newer cursor: back
    con.execute("INSERT INTO public.events VALUES (2, 'same', '2025-01-01')")
    assert len(con.execute("SELECT * FROM public.events_latest WHERE id = 2").fetchall()) == 1
