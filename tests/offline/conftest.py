"""The offline tier: the real engine on the demo stack (SQLite source, local-directory store,
DuckDB warehouse). No server, no psutil, no moto: ``run_cli`` runs the CLI in a subprocess."""

from __future__ import annotations

from tests.support.cli import run_cli  # noqa: F401  (fixture)
