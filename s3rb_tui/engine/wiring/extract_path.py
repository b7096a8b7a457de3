"""Which extraction path a backup takes, and opening a source for it.

Two paths read MySQL: ``connectorx`` (``sources/mysql_arrow.py``: Rust decodes the protocol
straight into Arrow, one streaming keyset query per run) and ``pymysql`` (``sources/mysql_rows.py``:
the fallback that always works). Other dialects (the demo's SQLite) have one path, named after
the dialect. ``EXTRACT_ENGINE`` / ``--extract-engine``:

- ``auto`` (default): connectorx when it is importable and the source is MySQL, else the fallback;
- ``fast``: connectorx, or a configuration error saying why it cannot be used;
- ``pymysql``: the fallback, whatever is installed.

Both paths go through the SSH tunnel when a bastion is configured: the fast source connects to
the same host and port as the pymysql source (the tunnel's local end), page by page on one
connection (see ``ConnectorXArrow``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.sources.mysql import MySQLSource
from s3rb_tui.engine.sources.mysql_arrow import EXTRACT_PATH as FAST, ConnectorXArrow, connectorx_available

if TYPE_CHECKING:
    from s3rb_tui.engine.sources.base import Source
    from s3rb_tui.engine.wiring.workspace import Workspace
    from s3rb_tui.settings import Settings

FALLBACK = "pymysql"
ENGINES = ("auto", "fast", "pymysql")


def choose_extract_path(settings: "Settings", requested: str | None = None) -> str:
    """``connectorx``, ``pymysql``, or the source dialect (``sqlite``) for ``requested`` (default EXTRACT_ENGINE)."""
    engine = (requested or settings.str("EXTRACT_ENGINE") or "auto").lower()
    if engine not in ENGINES:
        raise ConfigError(f"unknown extraction engine {engine!r}", "use auto, fast or pymysql (EXTRACT_ENGINE or --extract-engine)")
    dialect = settings.str("DB_DIALECT") or "mysql"
    if dialect != "mysql":
        if engine == "fast":
            raise ConfigError(f"--extract-engine fast reads MySQL only, and the source is {dialect}",
                              "use --extract-engine auto (EXTRACT_ENGINE=auto)")
        return dialect
    if engine == "pymysql":
        return FALLBACK
    if connectorx_available():
        return FAST
    if engine == "fast":
        raise ConfigError("--extract-engine fast needs the connectorx package, which is not installed",
                          "pip install connectorx, or use --extract-engine pymysql")
    return FALLBACK


def open_extract_source(ws: "Workspace", path: str) -> "Source":
    """The workspace's source (through its SSH tunnel, if any), reading by ``path``."""
    if path != FAST:
        return ws.open_source()
    host, port = ws.mysql_address()  # one connection: not a pymysql source opened first for its address
    fetch = ConnectorXArrow(parallel=ws.settings.int("BACKUP_NUM_CHUNKS"), tunnel=bool(ws.settings.str("SSH_BASTION_HOST")),
                            query_rows=ws.settings.int("BACKUP_QUERY_ROWS"))
    return MySQLSource.from_settings(ws.settings, host, port, fetch=fetch)
