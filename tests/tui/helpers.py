"""Waiting on conditions inside Pilot tests (never a fixed sleep)."""

from __future__ import annotations

import time


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def screen_text(app) -> str:
    """The current screen as plain text (what an operator sees)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def wait_text(pilot, text: str, timeout: float = 30.0) -> str:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), timeout, f"{text!r} on screen")
    return screen_text(pilot.app)


def pilot_test(fn):
    """Run an async Pilot test body with asyncio.run (the project has no async pytest plugin)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def region_text(app, widget) -> str:
    """What ``widget``'s part of the screen shows, its lines joined by spaces."""
    r = widget.region
    lines = screen_text(app).splitlines()[r.y:r.y + r.height]
    return " ".join(" ".join(line[r.x:r.x + r.width].split()) for line in lines)


def make_app(env: dict[str, str], **kwargs):
    """A ConsoleApp on settings built from ``env`` alone (no .env, no background refresh unless asked)."""
    from s3rb_tui.settings import build_settings
    from s3rb_tui.tui.app import ConsoleApp

    kwargs.setdefault("refresh_seconds", 0)
    return ConsoleApp(build_settings(env), **kwargs)
