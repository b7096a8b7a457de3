"""The pipeline's state: per-table watermark documents and locks in the store, and ``ledger``, the
read side of the committed files and the warehouse's load ledger.

``watermarks`` and ``locks`` import only ``core`` and ``stores``; ``ledger`` also reads warehouses.
"""
