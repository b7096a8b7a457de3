"""The pipeline's state in the store: per-table watermark documents and locks.

Imports only ``core`` and ``stores``.
"""
