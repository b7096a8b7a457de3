"""Helpers behind the fixtures in ``tests/conftest.py``: real services started and checked on loopback."""
