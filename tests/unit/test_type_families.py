"""The type families the cursor and keyset code compare by are the type-rule table's own: each
family's types have rules whose Arrow type is of that family, so a rule added or changed in the
table moves the families with it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from s3rb_tui.engine.core.type_families import BINARY_TYPES, DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, types_of
from s3rb_tui.engine.core.type_rules import Column, rule_for


@pytest.mark.parametrize(("family", "is_kind"), [
    (INTEGER_TYPES, pa.types.is_integer),
    (DECIMAL_TYPES, pa.types.is_decimal),
    (FLOAT_TYPES, pa.types.is_floating),
    (BINARY_TYPES, lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
])
def test_every_type_of_a_family_has_a_rule_of_that_kind(family, is_kind):
    for t in family:
        for unsigned in (False, True):
            column = Column("c", t, t, precision=10, scale=2, unsigned=unsigned)
            assert is_kind(rule_for(column).arrow(column)) or (t == "bigint" and unsigned), t


def test_the_families_hold_every_spelling_mysql_reports():
    assert {"int", "integer"} <= set(INTEGER_TYPES) and {"decimal", "numeric"} <= set(DECIMAL_TYPES)
    assert {"double", "real"} <= set(FLOAT_TYPES) and "longblob" in BINARY_TYPES


def test_a_rule_name_no_rule_has_is_refused():
    with pytest.raises(KeyError):
        types_of("no-such-rule")
