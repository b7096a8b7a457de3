"""Core: what every other room of the engine uses and that imports nothing else of the engine.

Errors and exit codes, the job context (events, cancel tokens, results), retries, durations,
table names (``TableRef``), per-table settings from ``s3rb.toml`` and the one table of type rules.
"""
