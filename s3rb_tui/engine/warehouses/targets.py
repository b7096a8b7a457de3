"""Which warehouse table a source table loads into, and the names refused before a load touches
anything: names the warehouse could not keep apart or hold.

- **The target.** ``<REDSHIFT_SCHEMA>.<target_table from s3rb.toml, else the source table's name>``.
- **One warehouse table per source table.** Two source tables mapped to one target (``a.orders``
  and ``b.orders`` both land in ``<REDSHIFT_SCHEMA>.orders`` by default) would load into it at the
  same time and mix their rows: a run naming both is refused before it starts (exit 2), whatever
  the strategy. Names are compared case-insensitively, as Redshift folds them.
- **The product's own names.** Warehouse tables whose name starts with ``s3rb_`` (the load ledger,
  the stage and probe tables) and columns whose name starts with ``_s3rb_`` (the loader's helper
  columns: load order, row numbers) belong to the product. A source table that would land on one
  (a table called ``s3rb_load_ledger`` made the sync ALTER the real ledger) or a source column
  named like a helper column (every merge failed) is refused by name, before any DDL.
- **Names the warehouse cannot hold.** PostgreSQL keeps 63 bytes of an identifier and silently
  cuts the rest (a 64-character column was created cut, then added again on the next run: stuck
  on DuplicateColumn); Redshift keeps 127. A longer table or column name is refused before
  loading, with the fix (``target_table`` in s3rb.toml for a table; a shorter column name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from s3rb_tui.engine.core.errors import JobError, UsageError
from s3rb_tui.engine.core.type_rules import TableSchema
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.warehouses.base import Target

if TYPE_CHECKING:
    from s3rb_tui.engine.wiring.workspace import Workspace

PRODUCT_TABLE_PREFIX = "s3rb_"
HELPER_COLUMN_PREFIX = "_s3rb_"
#: the longest identifier each warehouse keeps whole, in bytes (None: no limit that matters)
IDENTIFIER_BYTES = {"postgres": 63, "redshift": 127, "duckdb": None}


def target_for(ws: "Workspace", ref: TableRef) -> Target:
    cfg = ws.table_config(ref)
    return Target(ws.settings.str("REDSHIFT_SCHEMA"), cfg.target_table or ref.name)


def _toml_hint(ref: TableRef) -> str:
    return f'give it another warehouse name: target_table = "..." under [tables."{ref}"] in s3rb.toml'


def refuse_shared_targets(ws: "Workspace", tables: Iterable[TableRef]) -> None:
    """UsageError (exit 2, nothing done) when two of ``tables`` load into one warehouse table, or
    one would load into a table of the product."""
    seen: dict[str, TableRef] = {}
    for ref in tables:
        target = target_for(ws, ref)
        if target.name.lower().startswith(PRODUCT_TABLE_PREFIX):
            raise UsageError(f"{ref} would load into {target.full_name}, a name the product keeps for itself "
                             f"(warehouse tables starting with {PRODUCT_TABLE_PREFIX!r}: the load ledger, stage tables)", _toml_hint(ref))
        key = target.full_name.lower()
        other = seen.get(key)
        if other is not None and other != ref:
            raise UsageError(f"{other} and {ref} would both load into {target.full_name} and mix their rows; nothing was run",
                             _toml_hint(ref))
        seen[key] = ref


def refuse_unholdable_names(schema: TableSchema, target: Target, dialect: str) -> None:
    """JobError (the table stops before any DDL) for helper-column names and names too long."""
    ref = schema.ref
    helpers = [c.name for c in schema.columns if c.name.lower().startswith(HELPER_COLUMN_PREFIX)]
    if helpers:
        raise JobError(f"{ref}: column(s) {', '.join(helpers)} are named like the loader's helper columns "
                       f"(names starting with {HELPER_COLUMN_PREFIX!r} are the product's); nothing was loaded",
                       "rename the column(s) in MySQL, or load the table through a view that renames them")
    limit = IDENTIFIER_BYTES.get(dialect)
    if limit is None:
        return
    if len(target.name.encode()) > limit:
        raise JobError(f"{ref}: the warehouse table name {target.name!r} is {len(target.name.encode())} bytes; "
                       f"{dialect} keeps {limit} and would cut it; nothing was loaded", _toml_hint(ref))
    long = [c.name for c in schema.columns if len(c.name.encode()) > limit]
    if long:
        raise JobError(f"{ref}: column name(s) {', '.join(repr(n) for n in long)} are longer than the {limit} bytes "
                       f"{dialect} keeps (it would cut them and the next load would stop on a duplicate column); nothing was loaded",
                       f"rename the column(s) in MySQL to at most {limit} characters, or load the table through a view that renames them")
