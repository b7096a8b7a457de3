"""The Textual operator console. Only ``app.run_console`` is imported from outside (by cli.py)."""
