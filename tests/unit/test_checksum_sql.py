"""Golden tests of verify's checksum SQL (engine/checksum.py and each dialect's spelling): the exact
Redshift statements (no cluster here: scripts/redshift_smoke.py runs them on one), the kinds every
type rule gets per dialect, and the Python side of the kinds compared outside SQL."""

from __future__ import annotations

import hashlib

import pytest

from s3rb_tui.engine.core.checksum import SIDE_KINDS, Field, canonical_kind, side_text, text_hash
from s3rb_tui.engine.core.type_rules import TYPE_RULES, Column
from s3rb_tui.engine.sources.mysql_checksum import MySQLCanonical
from s3rb_tui.engine.warehouses.checksum_duckdb import DuckDBCanonical
from s3rb_tui.engine.warehouses.checksum_postgres import PostgresCanonical
from s3rb_tui.engine.warehouses.checksum_redshift import RedshiftCanonical

COLUMNS = [
    Column("ID", "bigint", unsigned=True), Column("Amount", "decimal", precision=10, scale=2), Column("note", "varchar"),
    Column("sig", "blob"), Column("day", "date"), Column("at0", "datetime", precision=0), Column("at6", "datetime", precision=6),
    Column("ts", "timestamp", precision=3), Column("tm", "time"), Column("doc", "json"), Column("bits", "bit", precision=8),
]


def fields(dialect):
    return [Field(c, canonical_kind(c, dialect)) for c in COLUMNS]


def test_redshift_row_text_and_sum_are_exactly_these():
    rs = RedshiftCanonical()
    text = rs.row_text(fields("redshift"), lambda n: rs.quote(n))
    assert text == (
        "(COALESCE(CAST(\"id\" AS VARCHAR), 'N') || '|' || COALESCE(CAST(\"amount\" AS VARCHAR), 'N') || '|' || "
        "COALESCE((CAST(OCTET_LENGTH(\"note\") AS VARCHAR) || ':' || \"note\"), 'N') || '|' || "
        "COALESCE(UPPER(FROM_VARBYTE(\"sig\", 'hex')), 'N') || '|' || COALESCE(TO_CHAR(\"day\", 'YYYY-MM-DD'), 'N') || '|' || "
        "COALESCE(CAST(\"at0\" AS VARCHAR), 'N') || '|' || COALESCE(TO_CHAR(\"at6\", 'YYYY-MM-DD HH24:MI:SS.US'), 'N') || '|' || "
        "COALESCE(TO_CHAR(CONVERT_TIMEZONE('UTC', \"ts\"), 'YYYY-MM-DD HH24:MI:SS.US'), 'N') || '|' || "
        "COALESCE((CAST(OCTET_LENGTH(\"tm\") AS VARCHAR) || ':' || \"tm\"), 'N') || '|' || "
        "COALESCE((CAST(OCTET_LENGTH(\"doc\") AS VARCHAR) || ':' || \"doc\"), 'N') || '|' || COALESCE(CAST(\"bits\" AS VARCHAR), 'N'))")
    # SUM(BIGINT) is a BIGINT in Redshift: each hash is widened first, so a segment never overflows
    assert rs.hash_sum("x") == "SUM(CAST(STRTOL(LEFT(MD5(x), 15), 16) AS DECIMAL(38,0)))"
    assert rs.bucket("k") == "STRTOL(LEFT(MD5(k), 8), 16)"


def test_redshift_folds_identifiers_and_keeps_time_and_json_as_loaded_text():
    kinds = {c.name: canonical_kind(c, "redshift") for c in COLUMNS}
    assert kinds["tm"] == "time_text" and kinds["doc"] == "json_text"
    assert RedshiftCanonical().quote("MixedCase") == '"mixedcase"'


def test_every_type_rule_has_a_canonical_form_on_every_dialect():
    canon = {"postgres": PostgresCanonical(), "duckdb": DuckDBCanonical(), "redshift": RedshiftCanonical()}
    for rule in TYPE_RULES:
        for data_type in rule.mysql_types:
            column = Column("c", data_type, precision=6 if data_type in ("datetime", "timestamp") else 10, scale=2)
            for dialect, sql in canon.items():
                kind = canonical_kind(column, dialect)
                if kind in SIDE_KINDS:
                    continue
                assert sql.value(kind, '"c"', column) and MySQLCanonical(dialect).value(kind, "`c`", column), (data_type, dialect)


def test_mysql_side_pads_fractions_to_microseconds_and_leaves_rare_rules_to_the_fetch():
    my = MySQLCanonical("postgres")
    assert my.value("datetime", "`t`", Column("t", "datetime", precision=3)) == "CONCAT(`t`, '000')"
    assert my.value("datetime", "`t`", Column("t", "datetime", precision=0)) == "`t`"
    assert my.value("integer", "`b`", Column("b", "bit", precision=8)) == "CAST(`b` AS UNSIGNED)"
    # the loader's rules for rare values, applied to fetched fields
    assert my.fix_field("text", "3:a\x00b") == "5:a\ufffdb"
    assert my.fix_field("datetime", "0000-00-00 00:00:00") == "N"
    assert MySQLCanonical("duckdb").fix_field("text", "3:a\x00b") == "3:a\x00b"  # DuckDB holds NUL


def test_null_empty_and_the_text_null_are_three_fields():
    my = MySQLCanonical("postgres")
    f = Field(Column("t", "varchar"), "text")
    assert my.field(f, "`t`") == "COALESCE(CONCAT(LENGTH(`t`), ':', `t`), 'N')"  # NULL -> N, '' -> 0:, 'NULL' -> 4:NULL


def test_side_kinds_compare_bits_and_parsed_json():
    assert side_text("float32", 1.0000001192092896) == side_text("float32", 1.0000001)  # FLOAT read exactly vs REAL's shortest text
    assert side_text("float64", 0.1) != side_text("float64", 0.1 + 2 ** -56)
    assert side_text("json_doc", '{"b": 1, "a": [1.0, "x"]}') == side_text("json_doc", {"a": [1.0, "x"], "b": 1})
    assert side_text("json_doc", '{"a": 1, "a": 2}') == side_text("json_doc", '{"a": 1}')  # MySQL reads the first
    assert side_text("json_doc", None) == "N" != side_text("json_doc", "null")


@pytest.mark.parametrize("text", ["", "1|2:ab|N", "é"])
def test_text_hash_is_the_first_60_bits_of_md5(text):
    assert text_hash(text) == int(hashlib.md5(text.encode()).hexdigest()[:15], 16)
