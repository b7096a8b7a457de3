"""Choosing tables: what the source offers, and what ``-t`` patterns and ``--all`` select.

``readable_schemas(source)`` lists every schema the user may read, each with its tables and views
(the console's Tables screen groups by it). ``resolve_tables`` turns the command line's table
arguments into TableRefs:

- ``schema.table`` / ``table``: as written (unscoped -> DB_DATABASE), checked without connecting;
- a glob (``schema.*``, ``schema.settle*``, ``*.rental``, ``?``, ``[...]``): every **base table**
  of the source whose schema and name match (case-sensitive, as MySQL's names are on Linux);
  views are only taken when named;
- ``--all``: every base table of the schemas in DB_SCHEMAS, or of DB_DATABASE when it is empty.

A pattern that matches nothing is bad input (UsageError, exit 2): a cron line that silently
backs up nothing is worse than one that fails. Duplicates are dropped, the first mention's order
kept. Commands that read only the store (``status``, ``watermark``, ``s3clean``) pass
``store_fallback``: when the source cannot be reached, patterns match the tables the store knows
(a watermark or data files) instead.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from s3rb_tui.engine.core.errors import UsageError
from s3rb_tui.engine.sources.base import TableInfo
from s3rb_tui.engine.core.table_names import TableRef, validate_identifier
from s3rb_tui.engine.state.ledger import tables_in_store

if TYPE_CHECKING:
    from s3rb_tui.engine.sources.base import Source
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import Settings

_GLOB_CHARS = set("*?[")
_PATTERN_PART = re.compile(r"^[A-Za-z0-9_$*?\[\]!-]{1,64}$")


@dataclass(frozen=True)
class SchemaTables:
    """One schema the user may read, with its base tables and views (views marked)."""

    schema: str
    tables: tuple[TableInfo, ...]

    @property
    def base_tables(self) -> list[TableRef]:
        return [t.ref for t in self.tables if not t.is_view]


def readable_schemas(source: "Source", only: Iterable[str] | None = None) -> list[SchemaTables]:
    """Every schema the user may read (or those of ``only`` that exist), sorted, with its tables."""
    names = source.list_schemas()
    if only is not None:
        wanted = set(only)
        names = [n for n in names if n in wanted]
    return [SchemaTables(n, tuple(source.list_tables(n))) for n in names]


def configured_schemas(settings: "Settings") -> list[str]:
    """The schemas ``--all`` and the console cover: DB_SCHEMAS, else DB_DATABASE (maybe none)."""
    listed = [s.strip() for s in settings.str("DB_SCHEMAS").split(",") if s.strip()]
    if listed:
        return list(dict.fromkeys(listed))
    default = settings.str("DB_DATABASE")
    return [default] if default else []


def is_pattern(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _split_pattern(text: str, default_schema: str | None) -> tuple[str, str]:
    parts = text.strip().split(".")
    if len(parts) == 1:
        if not default_schema:
            raise UsageError(f"table pattern {text!r} has no schema and DB_DATABASE is not set", "write it as schema.pattern, e.g. -t 'sales.*'")
        parts = [default_schema, parts[0]]
    if len(parts) != 2 or not all(_PATTERN_PART.match(p) for p in parts):
        raise UsageError(f"invalid table pattern {text[:80]!r}",
                         "use schema.table with the globs * ? [...], e.g. -t 'sales.*' or -t 'sales.settle*' (quote it in the shell)")
    return parts[0], parts[1]


def _match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def select(names: Sequence[str], all_tables: bool, *, default_schema: str | None, all_schemas: Sequence[str],
           base_tables: Callable[[str], list[TableRef]], schemas: Callable[[], list[str]]) -> list[TableRef]:
    """The tables ``names`` and ``all_tables`` select, from listings given as callables (called only
    when a pattern or ``--all`` needs them; ``base_tables(schema)`` and ``schemas()``)."""
    out: list[TableRef] = []
    listed: dict[str, list[TableRef]] = {}

    def tables_of(schema: str) -> list[TableRef]:
        if schema not in listed:
            listed[schema] = base_tables(schema)
        return listed[schema]

    if all_tables:
        if not all_schemas:
            raise UsageError("--all needs DB_SCHEMAS or DB_DATABASE to say which schemas", "set DB_SCHEMAS=schema1,schema2 (or DB_DATABASE) in .env")
        found = False
        for schema in all_schemas:
            validate_identifier(schema, "schema name")
            tables = tables_of(schema)
            found = found or bool(tables)
            out.extend(tables)
        if not found:
            raise UsageError(f"--all found no base table in {', '.join(all_schemas)}", "check DB_SCHEMAS / DB_DATABASE and the user's privileges")
    for text in names:
        if not is_pattern(text):
            out.append(TableRef.parse(text, default_schema))
            continue
        schema_pat, table_pat = _split_pattern(text, default_schema)
        matched_schemas = [s for s in schemas() if _match(schema_pat, s)] if is_pattern(schema_pat) else [schema_pat]
        hits = [t for s in matched_schemas for t in tables_of(s) if _match(table_pat, t.name)]
        if not hits:
            where = f"schema {schema_pat}" if not is_pattern(schema_pat) else f"{len(matched_schemas)} matching schema(s)"
            raise UsageError(f"no base table matches {text!r} (looked in {where})",
                             "check the pattern; `s3rb-tui --run tables` lists what the source has")
        out.extend(hits)
    return list(dict.fromkeys(out))


def check_table_args(names: Sequence[str], default_schema: str | None) -> list[TableRef]:
    """Every name and pattern checked without connecting (UsageError on the first bad one);
    returns the plain names as TableRefs."""
    out = []
    for n in names:
        if is_pattern(n):
            _split_pattern(n, default_schema)
        else:
            out.append(TableRef.parse(n, default_schema))
    return list(dict.fromkeys(out))


def resolve_tables(ws: "Workspace", names: Sequence[str] | None, all_tables: bool = False, *,
                   store_fallback: bool = False) -> list[TableRef]:
    """``-t`` arguments and ``--all`` -> TableRefs. The source is opened only for a pattern or
    ``--all``; with ``store_fallback`` an unreachable source means the store's known tables."""
    names = list(names or [])
    literal = check_table_args(names, ws.settings.str("DB_DATABASE") or None)
    if not all_tables and not any(is_pattern(n) for n in names):
        return literal
    settings = ws.settings
    default = settings.str("DB_DATABASE") or None
    try:
        source = ws.open_source()
    except Exception:
        if not store_fallback:
            raise
        known = store_tables(ws)
        return select(names, all_tables, default_schema=default, all_schemas=configured_schemas(settings),
                      base_tables=lambda s: [t for t in known if t.schema == s],
                      schemas=lambda: sorted({t.schema for t in known}))
    with source:
        return select(names, all_tables, default_schema=default, all_schemas=configured_schemas(settings),
                      base_tables=lambda s: [t.ref for t in source.list_tables(s) if not t.is_view],
                      schemas=source.list_schemas)


def store_tables(ws: "Workspace") -> list[TableRef]:
    """Tables the store knows: a watermark document or data files."""
    names = {wm.table for wm in ws.watermarks.list()} | {t.full_name for t in tables_in_store(ws.store, ws.incremental_path)}
    return [TableRef.parse(n) for n in sorted(names)]
