"""Workspace: the one place that turns Settings into open parts (store, source, warehouse, tunnels).

Both front ends (headless and console) hold a Workspace and call engine jobs with it. Sources and
warehouses are opened per job (one connection per worker thread); the store, the watermark store
and SSH tunnels are shared and closed by ``close()``.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from s3rb_tui.engine.core.table_settings import TableConfig, load_table_configs
from s3rb_tui.engine.core.table_names import TableRef
from s3rb_tui.engine.state.watermarks import WatermarkStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from s3rb_tui.engine.sources.base import Source
    from s3rb_tui.engine.wiring.tunnels import Tunnel
    from s3rb_tui.engine.warehouses.base import Warehouse
    from s3rb_tui.engine.stores.base import ObjectStore
    from s3rb_tui.settings import Settings


class Workspace:
    def __init__(self, settings: "Settings", log=None):
        self.settings = settings
        self._tunnels: dict[str, Tunnel] = {}
        self._tunnel_lock = threading.Lock()
        self.log = log or (lambda *a, **k: None)

    # --- configuration -----------------------------------------------------------------
    @cached_property
    def table_configs(self) -> dict[str, TableConfig]:
        return load_table_configs(self.settings.path("S3RB_CONFIG"))

    def table_config(self, ref: TableRef) -> TableConfig:
        return self.table_configs.get(ref.full_name, TableConfig())

    def table_ref(self, text: str) -> TableRef:
        return TableRef.parse(text, self.settings.str("DB_DATABASE") or None)

    @property
    def incremental_path(self) -> str:
        return self.settings.str("S3_INCREMENTAL_PATH")

    # --- shared parts --------------------------------------------------------------------
    @cached_property
    def store(self) -> "ObjectStore":
        from s3rb_tui.engine.stores import open_store

        return open_store(self.settings)

    @cached_property
    def watermarks(self) -> WatermarkStore:
        return WatermarkStore(self.store)

    def tunnel(self, which: str):
        """The SSH tunnel for ``mysql`` or ``warehouse``, or None when no bastion is configured."""
        bastion = "SSH_BASTION_HOST" if which == "mysql" else "REDSHIFT_SSH_BASTION_HOST"
        if not self.settings.str(bastion):
            return None
        from s3rb_tui.engine.wiring import tunnels

        with self._tunnel_lock:
            t = self._tunnels.get(which)
            if t is None:
                t = tunnels.open_tunnel_for(self.settings, which, log=self.log)
                if t is None:
                    return None
                self._tunnels[which] = t
            else:
                t.ensure()
            return t

    # --- per-job parts -------------------------------------------------------------------
    def open_source(self) -> "Source":
        from s3rb_tui.engine.sources import open_source

        if self.settings.str("DB_DIALECT") == "mysql":
            return open_source(self.settings, *self.mysql_address())
        return open_source(self.settings)

    def mysql_address(self) -> tuple[str, int]:
        """Where MySQL is reached: the SSH tunnel's local end (opened on first use), or DB_HOST:DB_PORT."""
        t = self.tunnel("mysql")
        if t is not None:
            return "127.0.0.1", t.local_port
        return self.settings.str("DB_HOST"), self.settings.int("DB_PORT")

    def open_warehouse(self, reading: bool = False, log: "Callable[..., None] | None" = None) -> "Warehouse":
        """The warehouse, reading data files from this workspace's store and logging the statements
        it runs to ``log`` (a job's ``ctx.log``; none without). ``reading``: the caller only reads (status,
        plans, dry runs, counts): a warehouse that does not exist yet is not created for it (a
        DuckDB file stays absent)."""
        from s3rb_tui.engine.warehouses import open_warehouse

        t = self.tunnel("warehouse") if self.settings.str("WAREHOUSE_DIALECT") != "duckdb" else None
        if t is not None:
            return open_warehouse(self.settings, host="127.0.0.1", port=t.local_port, store=self.store, log=log, reading=reading)
        return open_warehouse(self.settings, store=self.store, log=log, reading=reading)

    def ensure_tunnels(self) -> None:
        """Health-check open tunnels between batches (reopens a dropped one once, else raises)."""
        with self._tunnel_lock:
            tunnels = list(self._tunnels.values())
        for t in tunnels:
            t.ensure()

    def close(self) -> None:
        with self._tunnel_lock:
            for t in self._tunnels.values():
                try:
                    t.close()
                except Exception:
                    pass
            self._tunnels.clear()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
