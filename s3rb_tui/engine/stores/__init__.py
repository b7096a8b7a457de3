"""Object stores: ``open_store(settings)`` picks the local directory or S3 from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3rb_tui.engine.core.errors import ConfigError
from s3rb_tui.engine.stores.base import DeleteError, ObjectInfo, ObjectStore, PreconditionFailed

if TYPE_CHECKING:
    from s3rb_tui.settings import Settings

__all__ = ["DeleteError", "ObjectInfo", "ObjectStore", "PreconditionFailed", "open_store"]


def open_store(settings: "Settings") -> ObjectStore:
    """``STORE_URL=file:///abs/dir`` -> LocalStore; otherwise S3 from the ``S3_*`` settings."""
    store_url = settings.str("STORE_URL").strip()
    if store_url:
        if not store_url.startswith("file://"):
            raise ConfigError(f"STORE_URL={store_url!r} must be file:///absolute/dir", "or leave it empty to use S3_BUCKET_NAME")
        from s3rb_tui.engine.stores.local import LocalStore

        return LocalStore.from_url(store_url)
    if not settings.str("S3_BUCKET_NAME").strip():
        raise ConfigError("S3_BUCKET_NAME is empty", "set the bucket, or STORE_URL=file:///dir for a local store")
    if bool(settings.str("S3_ACCESS_KEY")) != bool(settings.str("S3_SECRET_KEY")):
        raise ConfigError("S3_ACCESS_KEY and S3_SECRET_KEY must be set together", "or leave both empty for the AWS credential chain")
    from s3rb_tui.engine.stores.s3 import S3Store

    return S3Store.from_settings(settings)
