"""Headless command modules: each exposes ``run(args, app) -> int`` (see s3rb_tui.headless)."""
