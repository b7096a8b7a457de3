import pytest

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.core.table_names import TableRef, quote_mysql, quote_sql


def test_scoped_and_unscoped_names():
    assert TableRef.parse("settlement.partner_info").full_name == "settlement.partner_info"
    assert TableRef.parse("partner_info", "settlement") == TableRef("settlement", "partner_info")
    assert TableRef.parse("a$b.c_1") == TableRef("a$b", "c_1")


@pytest.mark.parametrize("bad", [
    "", "a.b.c", "x;drop table y", "a.`b`", "a b", "a.b-c", "x" * 65, "a.", ".b", "t'", 'a."b"', "a.b/c", "é.t",
])
def test_hostile_or_malformed_names_are_rejected(bad):
    with pytest.raises(UsageError) as e:
        TableRef.parse(bad, "db")
    assert "\n" not in str(e.value)


def test_unscoped_without_default_schema_says_how_to_fix():
    with pytest.raises(UsageError, match="DB_DATABASE"):
        TableRef.parse("rental", None)


def test_quoting_is_always_applied():
    ref = TableRef("sakila", "rental")
    assert ref.mysql() == "`sakila`.`rental`"
    assert quote_sql("x$1") == '"x$1"'
    with pytest.raises(UsageError):
        quote_mysql("a`b")


def test_64_characters_is_the_limit():
    TableRef.parse("s." + "t" * 64)
    with pytest.raises(UsageError):
        TableRef.parse("s." + "t" * 65)
