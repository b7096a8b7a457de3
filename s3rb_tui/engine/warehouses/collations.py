"""How MySQL matches text keys, and the warehouse expression that matches them the same way.

A merge replaces the warehouse row whose key equals a new version's key. MySQL decides equality
by the key column's collation: under a case-insensitive collation (``…_ci``) ``'a'`` and ``'A'`` are
one key, and under a PAD SPACE collation (every MariaDB collation but the ``…_nopad_…`` ones, and
MySQL's before the ``…_0900_…`` family) trailing spaces do not count (``'x '`` = ``'x'``). A key
changed from one spelling to an equal one is an UPDATE of one row in MySQL; a merge comparing
bytes kept both spellings in the warehouse. So text key columns are matched through
``key_expr``: ``RTRIM`` for PAD SPACE, ``LOWER`` for case-insensitive, the same SQL in PostgreSQL,
Redshift and DuckDB. The row kept carries the spelling read last.

Not reproduced: accent-insensitivity (``'a'`` = ``'á'`` under utf8mb4_general_ci) and expansions
(``'ß'`` = ``'ss'``): PostgreSQL and Redshift have no built-in for them; a load of such a table says so.
"""

from __future__ import annotations

from s3rb_tui.engine.core.type_rules import Column, TableSchema

EXACT, PAD, CI, CI_PAD = "exact", "pad", "ci", "ci_pad"
_TEXT_RULES = ("char", "text")


def key_match(column: Column) -> str:
    """How MySQL compares values of this key column: exact | pad | ci | ci_pad."""
    collation = (column.collation or "").lower()
    if column.rule.name not in _TEXT_RULES or not collation:
        return EXACT
    pad = "nopad" not in collation and "_0900_" not in collation
    ci = collation.endswith("_ci") or "_ci_" in collation
    return CI_PAD if ci and pad else CI if ci else PAD if pad else EXACT


def key_matching(schema: TableSchema) -> tuple[str, ...]:
    """``key_match`` of each primary-key column, in key order."""
    return tuple(key_match(schema.column(k)) for k in schema.primary_key)


def key_expr(sql: str, match: str) -> str:
    """``sql`` (a quoted, maybe qualified column) as the warehouse should compare it."""
    if match in (PAD, CI_PAD):
        sql = f"RTRIM({sql})"
    if match in (CI, CI_PAD):
        sql = f"LOWER({sql})"
    return sql


def inexact_warning(schema: TableSchema) -> str | None:
    """Said on every load of a table whose key MySQL compares more loosely than case and spaces."""
    loose = [f"{k} ({schema.column(k).collation})" for k, m in zip(schema.primary_key, key_matching(schema)) if m in (CI, CI_PAD)]
    if not loose:
        return None
    return (f"key column(s) {', '.join(loose)} compare case- and accent-insensitively in MySQL; the warehouse merge matches "
            "case and trailing spaces the same way, but keys that differ only in accents ('a'/'á') or expansions ('ß'/'ss') stay two rows")
