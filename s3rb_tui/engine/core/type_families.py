"""Type families: the MySQL types the cursor, keyset and transport code compare a column's type
with, read from the one type-rule table (``type_rules.TYPE_RULES``), never spelled out again."""

from __future__ import annotations

from s3rb_tui.engine.core.type_rules import TYPE_RULES


def types_of(*rules: str) -> tuple[str, ...]:
    """The MySQL types the named rules take, in the rules' order (a name no rule has raises
    KeyError at import)."""
    by_name = {r.name: r for r in TYPE_RULES}
    return tuple(t for name in rules for t in by_name[name].mysql_types)


INTEGER_TYPES = types_of("tinyint", "smallint", "mediumint", "int", "bigint")
DECIMAL_TYPES = types_of("decimal")
FLOAT_TYPES = types_of("float", "double")
#: stored as bytes: a position keeps them as hex text (``keyset.json_safe``)
BINARY_TYPES = types_of("binary")
