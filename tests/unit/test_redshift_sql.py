"""Golden tests of the exact statements sent to Redshift (no cluster needed), and of the DDL every
dialect gets from the one type table."""

from __future__ import annotations

import json

import pytest

from s3rb_tui.engine.errors import ConfigError
from s3rb_tui.engine.schema import Column, TableSchema, warehouse_type
from s3rb_tui.engine.tables import TableRef
from s3rb_tui.engine.warehouses import dialect_from_version
from s3rb_tui.engine.warehouses import sql
from s3rb_tui.engine.warehouses.base import LoadFile, LoadSpec, Target
from s3rb_tui.engine.warehouses.redshift import CopyAuth, copy_options, copy_statement, load_statements, manifest_json

KEY = "incremental/settlement.settlement_normal_delivery_detail/year=2025/month=08/day=09/hour=20/2025-08-09_20-00-01_batch_0001.parquet"
TARGET = Target("public", "settlement_normal_delivery_detail")
ROLE = CopyAuth(iam_role="arn:aws:iam::123456789012:role/RedshiftCopy")
KEYS = CopyAuth(access_key="TESTONLYACCESSKEYID01", secret_key="test-only-secret/not-a-real-key/0000000")


def test_manifest_lists_every_file_mandatory_with_its_length():
    files = [LoadFile(KEY, 10, 2048, ("ID",)), LoadFile(KEY.replace("0001", "0002"), 5, 1024, ("ID",))]
    assert json.loads(manifest_json("my-bucket", files)) == {"entries": [
        {"url": f"s3://my-bucket/{KEY}", "mandatory": True, "meta": {"content_length": 2048}},
        {"url": f"s3://my-bucket/{KEY.replace('0001', '0002')}", "mandatory": True, "meta": {"content_length": 1024}},
    ]}


def test_copy_parquet_with_iam_role():
    assert copy_statement(TARGET.sql, ["id", "ant_parcel_no"], "s3://my-bucket/redshift/manifests/run/batch_0001_00.manifest",
                          ROLE, "parquet", "", "us-east-1") == (
        'COPY "public"."settlement_normal_delivery_detail" ("id", "ant_parcel_no")\n'
        "FROM 's3://my-bucket/redshift/manifests/run/batch_0001_00.manifest'\n"
        "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy'\n"
        "FORMAT AS PARQUET\n"
        "MANIFEST"
    )


def test_copy_csv_gzip_with_keys_and_options_and_the_secret_redacted():
    statement = copy_statement('"s3rb_stage"', ["id"], "s3://b/m.manifest", KEYS, "csv", "MAXERROR 1000 TRUNCATECOLUMNS", "eu-west-1")
    assert statement == (
        'COPY "s3rb_stage" ("id")\n'
        "FROM 's3://b/m.manifest'\n"
        "ACCESS_KEY_ID 'TESTONLYACCESSKEYID01' SECRET_ACCESS_KEY 'test-only-secret/not-a-real-key/0000000'\n"
        "FORMAT AS CSV GZIP\n"
        "TIMEFORMAT 'auto' DATEFORMAT 'auto'\n"
        "MANIFEST\n"
        "REGION 'eu-west-1'\n"
        "MAXERROR 1000 TRUNCATECOLUMNS"
    )
    shown = KEYS.redact(statement)
    assert "wJalrXUtnFEMI" not in shown and "SECRET_ACCESS_KEY '****'" in shown
    # the manual's "GZIP MAXERROR 1000" is not doubled
    assert "GZIP GZIP" not in copy_statement("t", ["a"], "s3://b/m", ROLE, "csv", "GZIP MAXERROR 1000", "")


def test_copy_needs_a_role_or_keys():
    with pytest.raises(ConfigError, match="REDSHIFT_IAM_ROLE"):
        CopyAuth().clause()


def test_copy_options_per_format():
    assert copy_options("MAXERROR 0", "parquet") == ("", [])
    options, warnings = copy_options("GZIP MAXERROR 1000 TRUNCATECOLUMNS ACCEPTINVCHARS AS '?'", "parquet")
    assert options == "ACCEPTINVCHARS AS '?'"
    assert "GZIP MAXERROR 1000 TRUNCATECOLUMNS are not accepted by COPY … FORMAT AS PARQUET" in warnings[0]
    options, warnings = copy_options("GZIP  MAXERROR 1000 TRUNCATECOLUMNS", "csv")
    assert options == "GZIP MAXERROR 1000 TRUNCATECOLUMNS"
    assert warnings == ["REDSHIFT_COPY_OPTIONS has TRUNCATECOLUMNS: text longer than its column is cut silently, not reported"]
    with pytest.raises(ConfigError):
        copy_options("MAXERROR 1; DROP TABLE x", "csv")


def test_merge_batch_statements_in_order():
    statements = load_statements(TARGET, ["id", "ant_parcel_no", "update_at"], LoadSpec("merge", ("id",), "update_at"), ["<COPY>"])
    assert statements == [
        'CREATE TEMP TABLE "s3rb_stage" (LIKE "public"."settlement_normal_delivery_detail")',
        "<COPY>",
        'DELETE FROM "public"."settlement_normal_delivery_detail" USING "s3rb_stage" '
        'WHERE "public"."settlement_normal_delivery_detail"."id" = "s3rb_stage"."id"',
        'INSERT INTO "public"."settlement_normal_delivery_detail" ("id", "ant_parcel_no", "update_at")\n'
        'SELECT "id", "ant_parcel_no", "update_at" FROM (\n'
        '    SELECT "id", "ant_parcel_no", "update_at", ROW_NUMBER() OVER (PARTITION BY "id" ORDER BY "update_at" DESC) AS _s3rb_rn\n'
        '    FROM "s3rb_stage"\n'
        ") s WHERE _s3rb_rn = 1",
        'DROP TABLE "s3rb_stage"',
    ]
    assert load_statements(TARGET, ["id"], LoadSpec("append"), ["<COPY>"]) == ["<COPY>"]
    assert load_statements(TARGET, ["id"], LoadSpec("replace"), ["<COPY>"]) == ['DELETE FROM "public"."settlement_normal_delivery_detail"', "<COPY>"]


def test_ledger_ddl_and_insert():
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
        Column("label", "blob", "blob"),
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
        '    "label" VARBYTE(1024000),\n'
        '    "create_at" TIMESTAMP,\n'
        '    "update_at" TIMESTAMPTZ\n'
        ")\n"
        'DISTKEY("ant_parcel_no")\n'
        'SORTKEY("create_at", "billing_num")'
    )


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
