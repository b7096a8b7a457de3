"""Source databases: MySQL (production) and SQLite (the embedded demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3rb_tui.engine.sources.base import Source
    from s3rb_tui.settings import Settings


def open_source(settings: "Settings", host: str | None = None, port: int | None = None) -> "Source":
    """Open the configured source. ``host``/``port`` override DB_HOST/DB_PORT (an SSH tunnel's local end)."""
    if settings.str("DB_DIALECT") == "sqlite":
        from s3rb_tui.engine.sources.sqlite import SQLiteSource

        return SQLiteSource(settings.path("DB_SQLITE_PATH"), schema=settings.str("DB_DATABASE") or None)
    from s3rb_tui.engine.sources.mysql import MySQLSource

    return MySQLSource.from_settings(settings, host=host, port=port)
