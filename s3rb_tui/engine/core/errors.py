"""Error types shared by the engine and its front ends.

The exit-code contract (DESIGN.md): 2 for bad usage, input or configuration (nothing changed),
1 when a job ran and something failed.
"""

from __future__ import annotations


class S3rbError(Exception):
    """Base class. ``hint`` says how to fix it; ``str()`` is one line a user can read."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(S3rbError):
    """Bad command-line usage or bad input. Nothing was changed."""

    exit_code = 2


class ConfigError(S3rbError):
    """The configuration cannot work. Nothing was changed."""

    exit_code = 2


class JobError(S3rbError):
    """A job ran and failed (a table, a check, a connection)."""

    exit_code = 1


class LockedError(JobError):
    """Another run holds the per-table lock."""


class WatermarkError(JobError):
    """A watermark document is missing where files exist, corrupt, or of an unknown version."""


class ConflictError(JobError):
    """A compare-and-swap write lost the race."""


class Cancelled(JobError):
    """The job was cancelled through its cancel token."""
