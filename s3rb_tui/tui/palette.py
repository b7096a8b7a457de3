"""The command palette's provider: every action of the app and of the screen it was opened on.

Commands come from the same Bindings the footer shows, so the palette, the footer and the help
screen never disagree; actions the app disables (``--readonly``) are left out.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


def bindings_of(node) -> Iterator[Binding]:
    for b in getattr(node, "BINDINGS", []):
        if isinstance(b, Binding):
            yield b
        elif isinstance(b, tuple):
            yield Binding(*b)


def palette_entries(app, screen) -> list[tuple[str, str, object, str]]:
    """(title, help, node, action) for every enabled action of ``app`` and ``screen``."""
    seen: set[str] = set()
    out: list[tuple[str, str, object, str]] = []
    for node, prefix in ((screen, screen.__class__.__name__.replace("Screen", "")), (app, "")):
        for b in bindings_of(node):
            action_name = b.action.split("(", 1)[0]
            if not b.description or b.action in seen or action_name in ("command_palette",):
                continue
            if not node.check_action(action_name, ()) or not app.check_action(action_name, ()):
                continue
            seen.add(b.action)
            title = f"{prefix}: {b.description}" if prefix else b.description
            if b.action.startswith("show("):
                title = f"Go to {b.description}"
            key = b.key_display or b.key.split(",")[0]
            out.append((title, f"key {key}" + (f" — {b.tooltip}" if b.tooltip else ""), node, b.action))
    return out


class ActionsProvider(Provider):
    """Every action reachable by a key, searchable by name."""

    def _entries(self):
        return palette_entries(self.app, self.screen)

    async def _run(self, node, action: str) -> None:
        await self.app.run_action(action, node)

    async def discover(self) -> Hits:
        for title, help_text, node, action in self._entries():
            yield DiscoveryHit(title, partial(self._run, node, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, node, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, node, action), text=title, help=help_text)
