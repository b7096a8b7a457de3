"""Golden tests of the exact statements sent to Redshift (no cluster needed), one per documented
rule, and of the DDL every dialect gets from the one type table."""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.core.type_rules import Column, TableSchema, preflight, warehouse_type
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.warehouses import dialect_from_version
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import LoadFile, LoadSpec, Target
from s3rb_tui.engine.warehouses.redshift_sql import (SESSION_SETTINGS, config_notes, deployment, region_note, STL_LOAD_ERRORS, SYS_LOAD_ERRORS, CopyAuth, CopyUnit,
                                                     batch_statements, copy_options, copy_statement, fold, fold_target,
                                                     manifest_json, plan_units)
from s3rb_tui.settings import build_settings

KEY = "incremental/settlement.settlement_normal_delivery_detail/year=2025/month=08/day=09/hour=20/2025-08-09_20-00-01_batch_0001.parquet"
TARGET = Target("public", "settlement_normal_delivery_detail")
ROLE = CopyAuth(iam_role="arn:aws:iam::123456789012:role/RedshiftCopy")
KEYS = CopyAuth(access_key="TESTONLYACCESSKEYID01", secret_key="test-only-secret/not-a-real-key/0000000")
TEMP = CopyAuth(access_key="TESTONLYACCESSKEYID01", secret_key="test-only-secret/not-a-real-key/0000000", session_token="test-only-token/ABC=")


def copy_marker(dest, unit, columns):
    return f"<COPY {unit.seq} INTO {dest}{' (' + ', '.join(columns) + ')' if columns else ''}>"


def test_manifest_lists_every_file_mandatory_with_its_length():
    files = [LoadFile(KEY, 10, 2048, ("ID",)), LoadFile(KEY.replace("0001", "0002"), 5, 1024, ("ID",))]
    assert json.loads(manifest_json("my-bucket", files)) == {"entries": [
        {"url": f"s3://my-bucket/{KEY}", "mandatory": True, "meta": {"content_length": 2048}},
        {"url": f"s3://my-bucket/{KEY.replace('0001', '0002')}", "mandatory": True, "meta": {"content_length": 1024}},
    ]}


def test_parquet_copy_has_no_column_list_and_no_region():
    # "COPY from columnar data formats": positional, same number of columns; REGION refused
    assert copy_statement(TARGET.sql, "s3://my-bucket/redshift/manifests/run/batch_0001_00.manifest", ROLE, "parquet", "") == (
        'COPY "public"."settlement_normal_delivery_detail"\n'
        "FROM 's3://my-bucket/redshift/manifests/run/batch_0001_00.manifest'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy'\n"
        "FORMAT AS PARQUET\n"
        "MANIFEST"
    )
    with pytest.raises(AssertionError):
        copy_statement(TARGET.sql, "s3://b/m", ROLE, "parquet", "", columns=["id"])


def test_iam_role_default_is_the_bare_keyword():
    assert CopyAuth(iam_role="default").clause() == "IAM_ROLE default"
    assert CopyAuth(iam_role="DEFAULT").clause() == "IAM_ROLE default"


def test_keys_go_as_credentials_with_the_session_token_and_are_redacted():
    assert KEYS.clause() == "CREDENTIALS 'aws_access_key_id=TESTONLYACCESSKEYID01;aws_secret_access_key=test-only-secret/not-a-real-key/0000000'"
    statement = copy_statement('"s3rb_stage"', "s3://b/m.manifest", TEMP, "parquet", "")
    assert ("CREDENTIALS 'aws_access_key_id=TESTONLYACCESSKEYID01;aws_secret_access_key=test-only-secret/not-a-real-key/0000000;"
            "token=test-only-token/ABC='") in statement
    shown = TEMP.redact(statement)
    assert "not-a-real-key" not in shown and "test-only-token" not in shown
    assert "aws_secret_access_key=****;token=****" in shown


def test_copy_csv_method_gzip_nulls_region_and_options():
    statement = copy_statement('"s3rb_stage"', "s3://b/m.manifest", ROLE, "csv", "MAXERROR 1000 TRUNCATECOLUMNS",
                               columns=["id", "note"], region="eu-west-1")
    assert statement == (
        'COPY "s3rb_stage" ("id", "note")\n'
        "FROM 's3://b/m.manifest'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy'\n"
        "FORMAT AS CSV GZIP\n"
        "NULL AS '\\\\N'\n"  # the literal '\\N': NULL is \N, an empty field stays ''
        "TIMEFORMAT 'auto' DATEFORMAT 'auto'\n"
        "MANIFEST\n"
        "REGION 'eu-west-1'\n"
        "MAXERROR 1000 TRUNCATECOLUMNS"
    )
    # the manual's "GZIP MAXERROR 1000" is not doubled
    assert "GZIP GZIP" not in copy_statement("t", "s3://b/m", ROLE, "csv", "GZIP MAXERROR 1000")


def test_copy_needs_a_role_or_keys():
    with pytest.raises(ConfigError, match="REDSHIFT_IAM_ROLE"):
        CopyAuth().clause()


def test_copy_options_per_format():
    assert copy_options("MAXERROR 0", "parquet") == ("", [])
    options, warnings = copy_options("GZIP MAXERROR 1000 TRUNCATECOLUMNS ACCEPTINVCHARS AS '?' SERIALIZETOJSON", "parquet")
    assert options == "ACCEPTINVCHARS AS '?' SERIALIZETOJSON"
    assert "GZIP MAXERROR 1000 TRUNCATECOLUMNS are not accepted by COPY … FORMAT AS PARQUET" in warnings[0]
    options, warnings = copy_options("GZIP  MAXERROR 1000 TRUNCATECOLUMNS", "csv")
    assert options == "GZIP MAXERROR 1000 TRUNCATECOLUMNS"
    assert warnings == ["REDSHIFT_COPY_OPTIONS has TRUNCATECOLUMNS: text longer than its column is cut silently, not reported"]
    with pytest.raises(ConfigError):
        copy_options("MAXERROR 1; DROP TABLE x", "csv")


def test_every_session_sets_case_sensitivity_off_and_names_are_folded():
    assert SESSION_SETTINGS == ("SET enable_case_sensitive_identifier TO false",)
    assert fold("OrderItems") == "orderitems"
    assert fold_target(Target("Analytics", "OrderItems")).sql == '"analytics"."orderitems"'


def _file(n, columns=("id", "status", "update_at"), run="2025-08-09_20-00-01"):
    return LoadFile(f"incremental/s.t/year=2025/month=08/day=09/hour=20/{run}_batch_{n:04d}.parquet", 10, 1000, columns)


TABLE = [("id", "bigint"), ("status", "character varying(80)"), ("update_at", "timestamp without time zone")]


def test_units_follow_column_sets_formats_and_for_merges_runs():
    a, b = _file(1), _file(2)
    c = _file(3, ("update_at", "id", "status"))  # a column order the table does not have
    d, e = _file(4, run="2025-08-10_00-00-00"), _file(5, run="2025-08-10_00-00-00")
    run = lambda f: f.key.rsplit("/", 1)[1][:19]  # noqa: E731
    units = plan_units([(a, "parquet"), (b, "parquet"), (c, "parquet"), (d, "parquet"), (e, "csv")], run)
    assert [([f.key[-12:-8] for f in u.files], u.fmt, u.seq) for u in units] == [
        (["0001", "0002"], "parquet", 0), (["0003"], "parquet", 1), (["0004"], "parquet", 2), (["0005"], "csv", 3)]
    # append/replace: a new run does not cut a unit
    assert len(plan_units([(a, "parquet"), (d, "parquet")], None)) == 1


def test_append_copies_straight_in_when_the_columns_match_and_through_a_stage_when_not():
    same = CopyUnit((_file(1),), "parquet", 0)
    assert batch_statements(TARGET, TABLE, LoadSpec("append"), [same], copy_marker) == [
        '<COPY 0 INTO "public"."settlement_normal_delivery_detail">']
    # a file written before a column was added, in another column order: positional COPY into a stage
    # of exactly the file's columns, then INSERT ... SELECT by name
    older = CopyUnit((_file(1, ("update_at", "id")),), "parquet", 0)
    assert batch_statements(TARGET, TABLE, LoadSpec("replace"), [older], copy_marker) == [
        'DELETE FROM "public"."settlement_normal_delivery_detail"',  # never TRUNCATE: it commits
        'CREATE TEMP TABLE "s3rb_stage_file" ("update_at" timestamp without time zone, "id" bigint)',
        '<COPY 0 INTO "s3rb_stage_file">',
        'INSERT INTO "public"."settlement_normal_delivery_detail" ("update_at", "id") SELECT "update_at", "id" FROM "s3rb_stage_file"',
        'DROP TABLE "s3rb_stage_file"',
    ]
    # the CSV method maps columns by name: no stage needed
    csv = CopyUnit((_file(1, ("update_at", "id")),), "csv", 0)
    assert batch_statements(TARGET, TABLE, LoadSpec("append"), [csv], copy_marker) == [
        '<COPY 0 INTO "public"."settlement_normal_delivery_detail" (update_at, id)>']


MERGE_TAIL = [
    'DELETE FROM "public"."settlement_normal_delivery_detail" USING "s3rb_stage" '
    'WHERE "public"."settlement_normal_delivery_detail"."id" = "s3rb_stage"."id"',
]


def test_merge_of_one_unit_orders_by_the_cursor_inside_it():
    unit = CopyUnit((_file(1), _file(2)), "parquet", 0)
    assert batch_statements(TARGET, TABLE, LoadSpec("merge", ("ID",), "update_at"), [unit], copy_marker) == [
        'CREATE TEMP TABLE "s3rb_stage" ("id" bigint, "status" character varying(80), "update_at" timestamp without time zone)',
        '<COPY 0 INTO "s3rb_stage">',
        *MERGE_TAIL,
        'INSERT INTO "public"."settlement_normal_delivery_detail" ("id", "status", "update_at")\n'
        'SELECT "id", "status", "update_at" FROM (\n'
        '    SELECT "id", "status", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "update_at" DESC) AS _s3rb_rn\n'
        '    FROM "s3rb_stage"\n'
        ") s WHERE _s3rb_rn = 1",
        'DROP TABLE "s3rb_stage"',
    ]


def test_merge_of_several_units_keeps_the_unit_extracted_last_whatever_the_cursor():
    # two runs (a rewind between them): the second run's version wins even with an older cursor
    first, second = CopyUnit((_file(1),), "parquet", 0), CopyUnit((_file(2, run="2025-08-10_00-00-00"),), "csv", 1)
    assert batch_statements(TARGET, TABLE, LoadSpec("merge", ("id",), "update_at"), [first, second], copy_marker) == [
        'CREATE TEMP TABLE "s3rb_stage" ("id" bigint, "status" character varying(80), "update_at" timestamp without time zone, "_s3rb_seq" BIGINT)',
        'CREATE TEMP TABLE "s3rb_stage_file" ("id" bigint, "status" character varying(80), "update_at" timestamp without time zone)',
        '<COPY 0 INTO "s3rb_stage_file">',
        'INSERT INTO "s3rb_stage" ("id", "status", "update_at", "_s3rb_seq") SELECT "id", "status", "update_at", 0 FROM "s3rb_stage_file"',
        'DROP TABLE "s3rb_stage_file"',
        'CREATE TEMP TABLE "s3rb_stage_file" ("id" bigint, "status" character varying(80), "update_at" timestamp without time zone)',
        '<COPY 1 INTO "s3rb_stage_file">',
        'INSERT INTO "s3rb_stage" ("id", "status", "update_at", "_s3rb_seq") SELECT "id", "status", "update_at", 1 FROM "s3rb_stage_file"',
        'DROP TABLE "s3rb_stage_file"',
        *MERGE_TAIL,
        'INSERT INTO "public"."settlement_normal_delivery_detail" ("id", "status", "update_at")\n'
        'SELECT "id", "status", "update_at" FROM (\n'
        '    SELECT "id", "status", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "_s3rb_seq" DESC, "update_at" DESC) AS _s3rb_rn\n'
        '    FROM "s3rb_stage"\n'
        ") s WHERE _s3rb_rn = 1",
        'DROP TABLE "s3rb_stage"',
    ]


def test_load_errors_come_from_sys_views_first_by_session_never_pg_last_copy_id():
    assert SYS_LOAD_ERRORS == (
        "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(column_type), TRIM(error_message) "
        "FROM sys_load_error_detail WHERE session_id = %s ORDER BY start_time DESC LIMIT 20")
    assert "stl_load_errors WHERE session = %s" in STL_LOAD_ERRORS
    assert "pg_last_copy_id" not in SYS_LOAD_ERRORS + STL_LOAD_ERRORS


def test_serverless_is_named_and_the_region_rule_is_said():
    base = {"STORE_URL": "file:///tmp/x"}
    assert deployment(build_settings({**base, "REDSHIFT_HOST": "wg.123456789012.eu-west-1.redshift-serverless.amazonaws.com"})) == "serverless"
    assert deployment(build_settings({**base, "REDSHIFT_HOST": "c1.abc.eu-west-1.redshift.amazonaws.com"})) == "provisioned"
    assert deployment(build_settings({**base, "REDSHIFT_HOST": "dw.internal", "REDSHIFT_DEPLOYMENT": "serverless"})) == "serverless"
    assert "the bucket must be in the cluster's region" in region_note(build_settings({**base, "S3_REGION": "eu-west-1"}))
    notes = config_notes(build_settings({**base, "REDSHIFT_HOST": "wg.1.eu-west-1.redshift-serverless.amazonaws.com"}))
    assert notes[0] == ("Redshift deployment: serverless (REDSHIFT_DEPLOYMENT=auto); load errors from SYS_LOAD_ERROR_DETAIL only, "
                        "never STL views")
    assert config_notes(build_settings({**base, "WAREHOUSE_DIALECT": "postgres", "REDSHIFT_HOST": "h"})) == []


def test_ledger_ddl_insert_and_a_reader_that_counts_each_file_once():
    assert sql.create_ledger("public") == (
        'CREATE TABLE IF NOT EXISTS "public"."s3rb_load_ledger" (\n'
        '    "file_key" VARCHAR(1024) NOT NULL PRIMARY KEY,\n'
        '    "table_name" VARCHAR(256) NOT NULL,\n'
        '    "rows" BIGINT NOT NULL,\n'
        '    "loaded_at" TIMESTAMPTZ NOT NULL,\n'
        '    "run_id" VARCHAR(64) NOT NULL\n'
        ")"
    )
    assert sql.ledger_insert("public") == 'INSERT INTO "public"."s3rb_load_ledger" ("file_key", "table_name", "rows", "loaded_at", "run_id") VALUES (%s, %s, %s, %s, %s)'
    assert sql.ledger_insert("public", many=True).endswith("VALUES %s")
    # Redshift does not enforce the primary key: the reader groups by file; names compared folded
    assert sql.ledger_select("public", folded=True) == (
        'SELECT "file_key", MIN("rows"), MIN("run_id") FROM "public"."s3rb_load_ledger" WHERE LOWER("table_name") = %s '
        'GROUP BY "file_key" ORDER BY MIN("loaded_at"), "file_key"')


SETTLEMENT = TableSchema(
    ref=TableRef("settlement", "settlement_normal_delivery_detail"),
    columns=(
        Column("ID", "bigint", "bigint(20) unsigned", False, unsigned=True),
        Column("billing_num", "varchar", "varchar(500)", char_length=500),
        Column("partner_id", "bigint", "bigint(20)"),
        Column("ant_parcel_no", "varchar", "varchar(64)", char_length=64),
        Column("actual_weight", "decimal", "decimal(5,3)", precision=5, scale=3),
        Column("extra", "json", "json"),
        Column("handling_time", "time", "time"),
        Column("label", "blob", "blob", char_length=65535),
        Column("create_at", "datetime", "datetime"),
        Column("update_at", "timestamp", "timestamp"),
    ),
    primary_key=("ID",),
    cursor_column="update_at",
)


def test_redshift_ddl_of_the_manual_table_with_distkey_and_sortkey():
    columns = [(c.name, warehouse_type(c, "redshift")) for c in SETTLEMENT.columns]
    assert sql.create_table(TARGET, columns, distkey="ant_parcel_no", sortkey=("create_at", "billing_num"), redshift=True) == (
        'CREATE TABLE IF NOT EXISTS "public"."settlement_normal_delivery_detail" (\n'
        '    "ID" DECIMAL(20,0),\n'
        '    "billing_num" VARCHAR(2000),\n'
        '    "partner_id" BIGINT,\n'
        '    "ant_parcel_no" VARCHAR(256),\n'
        '    "actual_weight" DECIMAL(5,3),\n'
        '    "extra" VARCHAR(65535),\n'
        '    "handling_time" VARCHAR(20),\n'
        '    "label" VARBYTE(65535),\n'
        '    "create_at" TIMESTAMP,\n'
        '    "update_at" TIMESTAMPTZ\n'
        ")\n"
        'DISTKEY("ant_parcel_no")\n'
        'SORTKEY("create_at", "billing_num")'
    )


def test_varbyte_reaches_16_mib_and_preflight_names_only_what_is_really_out_of_range():
    # "VARBYTE type": 1 to 16,777,216 bytes
    assert warehouse_type(Column("b", "mediumblob", char_length=16777215), "redshift") == "VARBYTE(16777215)"
    assert warehouse_type(Column("b", "longblob", char_length=4294967295), "redshift") == "VARBYTE(16777216)"
    assert warehouse_type(Column("b", "varbinary", char_length=16), "redshift") == "VARBYTE(16)"
    ref = TableRef("s", "t")
    medium = preflight(TableSchema(ref, (Column("b", "mediumblob", char_length=16777215),), ("b",), None), "redshift")
    long = preflight(TableSchema(ref, (Column("b", "longblob", char_length=4294967295),), ("b",), None), "redshift")
    assert not any("VARBYTE" in w for w in medium)
    assert any("over 16,777,216 bytes" in w for w in long)


def test_postgres_and_duckdb_ddl_from_the_same_rules():
    pg = dict((c.name, warehouse_type(c, "postgres")) for c in SETTLEMENT.columns)
    assert pg == {"ID": "NUMERIC(20,0)", "billing_num": "VARCHAR(500)", "partner_id": "BIGINT", "ant_parcel_no": "VARCHAR(64)",
                  "actual_weight": "NUMERIC(5,3)", "extra": "JSONB", "handling_time": "INTERVAL", "label": "BYTEA",
                  "create_at": "TIMESTAMP", "update_at": "TIMESTAMPTZ"}
    duck = dict((c.name, warehouse_type(c, "duckdb")) for c in SETTLEMENT.columns)
    assert duck["ID"] == "UBIGINT" and duck["extra"] == "JSON" and duck["label"] == "BLOB"
    # no DISTKEY/SORTKEY outside Redshift
    assert "DISTKEY" not in sql.create_table(TARGET, list(pg.items()), distkey="ant_parcel_no")


def test_varchar_bytes_are_capped_for_redshift():
    assert warehouse_type(Column("v", "varchar", char_length=20000), "redshift") == "VARCHAR(65535)"
    assert warehouse_type(Column("v", "varchar", char_length=10), "redshift") == "VARCHAR(40)"


def test_auto_dialect_from_version():
    assert dialect_from_version("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.77467") == "redshift"
    assert dialect_from_version("PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu") == "postgres"
