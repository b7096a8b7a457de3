"""TableRef: parse, validate and quote ``schema.table`` names.

Identifiers are letters, digits, ``_`` and ``$``, at most 64 characters (MySQL's limit).
They are validated before any connection is made and always quoted when put into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s3rb_tui.engine.core.errors import UsageError

_IDENT = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def validate_identifier(name: str, what: str = "identifier") -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else repr(name)[:80]
        raise UsageError(
            f"invalid {what} {shown!r}",
            "use letters, digits, '_' or '$' only, at most 64 characters",
        )
    return name


def quote_mysql(name: str) -> str:
    validate_identifier(name)
    return f"`{name}`"


def quote_sql(name: str) -> str:
    """ANSI double-quoted identifier (PostgreSQL, Redshift, DuckDB, SQLite)."""
    validate_identifier(name)
    return f'"{name}"'


@dataclass(frozen=True, order=True)
class TableRef:
    schema: str
    name: str

    def __post_init__(self) -> None:
        validate_identifier(self.schema, "schema name")
        validate_identifier(self.name, "table name")

    @classmethod
    def parse(cls, text: str, default_schema: str | None = None) -> "TableRef":
        """``schema.table`` or ``table`` (scoped to ``default_schema``, i.e. DB_DATABASE)."""
        if not isinstance(text, str) or not text.strip():
            raise UsageError("empty table name", "pass -t schema.table")
        text = text.strip()
        parts = text.split(".")
        if len(parts) == 2:
            schema, name = parts
        elif len(parts) == 1:
            if not default_schema:
                raise UsageError(
                    f"table {text!r} has no schema and DB_DATABASE is not set",
                    "write it as schema.table or set DB_DATABASE",
                )
            schema, name = default_schema, parts[0]
        else:
            raise UsageError(
                f"invalid table name {text[:80]!r}", "write it as schema.table (one dot at most)"
            )
        validate_identifier(schema, "schema name")
        validate_identifier(name, "table name")
        return cls(schema, name)

    @property
    def full_name(self) -> str:
        """The scoped name used in logs, the store layout and watermark keys."""
        return f"{self.schema}.{self.name}"

    def mysql(self) -> str:
        return f"{quote_mysql(self.schema)}.{quote_mysql(self.name)}"

    def __str__(self) -> str:
        return self.full_name
