"""Helpers behind the fixtures in ``tests/support/services.py`` (seen by tests/integration only): real services started and checked on loopback."""
