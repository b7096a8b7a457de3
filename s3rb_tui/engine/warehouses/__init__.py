"""Warehouses: ``open_warehouse(settings)`` picks Redshift, PostgreSQL or DuckDB.

``WAREHOUSE_DIALECT=auto`` connects with psycopg2 and asks ``version()``: a Redshift cluster says
so; anything else is PostgreSQL. With auto and no REDSHIFT_HOST but a DUCKDB_PATH, DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3rb_tui.engine.warehouses.base import LoadFile, LoadSpec, Target, Warehouse

if TYPE_CHECKING:
    from s3rb_tui.engine.stores.base import ObjectStore
    from s3rb_tui.settings import Settings

__all__ = ["LoadFile", "LoadSpec", "Target", "Warehouse", "dialect_from_version", "open_warehouse", "resolve_dialect_name"]


def resolve_dialect_name(settings: "Settings") -> str:
    """The configured dialect before connecting: redshift, postgres, duckdb, or auto."""
    d = settings.str("WAREHOUSE_DIALECT")
    if d == "auto" and not settings.str("REDSHIFT_HOST") and settings.str("DUCKDB_PATH"):
        return "duckdb"
    return d


def dialect_from_version(version: str) -> str:
    """What ``WAREHOUSE_DIALECT=auto`` concludes from ``SELECT version()``."""
    return "redshift" if "redshift" in version.lower() else "postgres"


def open_warehouse(settings: "Settings", host: str | None = None, port: int | None = None,
                   store: "ObjectStore | None" = None, log=None, application_name: str = "s3rb-tui",
                   reading: bool = False) -> Warehouse:
    """Open the configured warehouse. ``host``/``port`` override REDSHIFT_HOST/PORT (an SSH
    tunnel's local end). ``store`` is where data files are read from for loads. ``reading``: the
    caller writes nothing, so a DuckDB file that does not exist yet is not created."""
    dialect = resolve_dialect_name(settings)
    if dialect == "duckdb":
        from s3rb_tui.engine.warehouses.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings, store, reading=reading)
    from s3rb_tui.engine.warehouses.postgres import PostgresWarehouse, connect
    from s3rb_tui.engine.warehouses.redshift import RedshiftWarehouse

    conn = connect(settings, host, port, application_name=application_name)
    h = host or settings.str("REDSHIFT_HOST")
    p = port or settings.int("REDSHIFT_PORT")
    where = f"{h}:{p}/{settings.str('REDSHIFT_DATABASE')} as {settings.str('REDSHIFT_USER') or '(default user)'}"
    if dialect == "auto":
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            version = str(cur.fetchone()[0])
        conn.commit()
        dialect = dialect_from_version(version)
    if dialect == "redshift":
        return RedshiftWarehouse(conn, settings, store, where, log=log)
    return PostgresWarehouse(conn, settings, store, where)
