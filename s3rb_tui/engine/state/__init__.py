"""State kept in the object store: its key layout, the per-table watermark documents and locks.

Imports only ``core`` and ``stores.base``.
"""
