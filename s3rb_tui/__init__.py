"""s3rb-tui: incremental MySQL -> S3 (Parquet) -> Redshift pipeline with an operator console."""

__version__ = "0.1.0"
