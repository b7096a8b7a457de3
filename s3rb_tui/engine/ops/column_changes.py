"""Columns that change in the source after the warehouse table exists: added with a DEFAULT,
renamed, dropped. (A changed type stops the table in ``load.sync_columns``.)

- **Added with a DEFAULT.** MySQL gives every row that exists at the ALTER the column's default;
  the warehouse column, added later, held NULL for them (until each row changed again). A literal
  default (``5``, ``'new'``, ``1.50``, ``b'1'``, a NOT NULL column's implicit ``0``/``''``) is given
  to the warehouse column too (``ADD COLUMN … DEFAULT``), so the rows already loaded get the value
  MySQL gave them, and files written before the ALTER load with it as well. An expression
  (``current_timestamp()``, ``uuid()``) had one value per row at the ALTER that the warehouse
  cannot know: the column is added without it and the load warns, naming the command that
  re-reads the rows.
- **Renamed or dropped.** A warehouse column the source no longer has kept its old values under the
  old name while the new name started NULL. The table stops before loading, saying which columns
  vanished and appeared and the statement that fixes each case.
"""

from __future__ import annotations

import re

from s3rb_tui.engine.core.errors import JobError
from s3rb_tui.engine.core.type_rules import Column, TableSchema
from s3rb_tui.engine.core.table_names import quote_sql
from s3rb_tui.engine.warehouses.base import Target

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_QUOTED = re.compile(r"^'((?:[^'\\]|'')*)'$")  # MySQL's spelling of a text default, '' for a quote
_BITS = re.compile(r"^b'([01]+)'$")
_NUMERIC_RULES = ("tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double", "bit", "year")
_TEXT_RULES = ("char", "text", "enum")


def added_column_default(c: Column) -> tuple[str | None, str | None]:
    """(SQL literal of the value MySQL gave existing rows, or None for NULL; why it cannot be
    known, or None). Literals are standard SQL, the same in every dialect."""
    rule = c.rule.name
    d = c.default
    if d is None or d == "NULL":
        if c.nullable:
            return None, None
        if rule in _NUMERIC_RULES:
            return "0", None  # MySQL's implicit default of a NOT NULL number
        if rule in _TEXT_RULES and c.data_type != "enum":
            return "''", None
        if c.data_type == "enum":
            labels = re.findall(r"'((?:[^'\\]|'')*)'", c.column_type)
            return (f"'{labels[0]}'", None) if labels else (None, "its implicit default is unknown")
        return None, "NOT NULL without a default: MySQL gave existing rows the type's implicit value"
    if rule in _NUMERIC_RULES and _NUMBER.match(d):
        return d, None
    bits = _BITS.match(d)
    if bits and rule == "bit":
        return str(int(bits.group(1), 2)), None
    if _QUOTED.match(d) and rule not in ("timestamp", "binary", "geometry"):
        return d, None
    return None, f"DEFAULT {d} is an expression (or a value in a time zone) the warehouse cannot reproduce row by row"


def default_warning(schema: TableSchema, column: str, reason: str) -> str:
    ref = schema.ref
    return (f"{ref} column {column} was added to the source: {reason}; rows loaded before keep NULL in the warehouse. "
            f"To match MySQL, re-read every row: s3rb-tui --run watermark reset -t {ref}, then sync")


def refuse_vanished_columns(schema: TableSchema, target: Target, existing: list[str], fold) -> None:
    """JobError when warehouse columns are gone from the source (renamed or dropped there)."""
    source = {fold(c.name) for c in schema.columns}
    have = {fold(n) for n in existing}
    vanished = [n for n in existing if fold(n) not in source]
    if not vanished:
        return
    appeared = [c.name for c in schema.columns if fold(c.name) not in have]
    ref = schema.ref
    what = f"column(s) {', '.join(vanished)} of {target.full_name} are no longer in {ref}"
    if appeared:
        what += f", which now has new column(s) {', '.join(appeared)}"
    first = vanished[0]
    rename = (f"ALTER TABLE {target.sql} RENAME COLUMN {quote_sql(first)} TO {quote_sql(appeared[0])}" if appeared
              else f"ALTER TABLE {target.sql} RENAME COLUMN {quote_sql(first)} TO <new name>")
    raise JobError(
        f"{what}: renamed or dropped in MySQL; nothing was loaded (old values would stay under the old name)",
        f"if renamed, run in the warehouse: {rename}; if dropped: ALTER TABLE {target.sql} DROP COLUMN {quote_sql(first)}; then run again")
