"""The console's actions in one registry, and the command palette that lists them.

Every action an operator can reach by a key is a Binding with a description on a screen class or
on the app; ``console_actions`` turns them into one list: the go-tos, every action of every
screen named with its screen ("Tables: Sync"), and the app's own (Help, Quit). The palette, the
footer and the help screen read the same Bindings, so they never disagree, and an action of
another screen switches to that screen first and runs there. Actions hidden by ``--readonly``
(``ConsoleScreen.action_available``) are left out. Textual's built-in "Quit" and "Keys" commands
are dropped in ``ConsoleApp.get_system_commands``: ours ask before quitting while a job runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import partial
from typing import Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

#: actions that are plumbing, not commands (the palette itself)
NOT_COMMANDS = frozenset({"command_palette"})


def bindings_of(cls) -> Iterator[Binding]:
    """A screen's (or the app's) bindings with a description: its own first, then those it inherits
    from the console's base classes (the list screens' Filter and Sort), one per action."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("s3rb_tui"):
            continue
        for b in klass.__dict__.get("BINDINGS", []):
            b = b if isinstance(b, Binding) else Binding(*b)
            if b.action in seen:
                continue
            seen.add(b.action)
            yield b


def key_label(b: Binding) -> str:
    return b.key_display or b.key.split(",")[0]


@dataclass(frozen=True)
class ConsoleAction:
    title: str
    help: str
    mode: str | None  # the screen it runs on (None: the app)
    action: str


def screen_class(mode: str):
    from s3rb_tui.tui.modes import SCREEN_CLASSES

    module, name = SCREEN_CLASSES[mode]
    return getattr(importlib.import_module(module), name)


def console_actions(app) -> list[ConsoleAction]:
    """Go-tos, then every screen's actions, then the app's: each title once."""
    from s3rb_tui.tui.modes import SCREEN_KEYS

    out: list[ConsoleAction] = []
    titles: set[str] = set()

    def add(entry: ConsoleAction) -> None:
        if entry.title not in titles:
            titles.add(entry.title)
            out.append(entry)

    for key, mode, label in SCREEN_KEYS:
        add(ConsoleAction(f"Go to {label}", f"key {key}", None, f"show('{mode}')"))
    for key, mode, label in SCREEN_KEYS:
        cls = screen_class(mode)
        for b in bindings_of(cls):
            name = b.action.split("(", 1)[0]
            if not b.description or name in NOT_COMMANDS or not cls.action_available(app, name):
                continue
            add(ConsoleAction(f"{label}: {b.description}", f"key {key_label(b)} on {label}" + (f" — {b.tooltip}" if b.tooltip else ""), mode, b.action))
    seen_actions: set[str] = set()
    for b in bindings_of(type(app)):
        name = b.action.split("(", 1)[0]
        if not b.description or name in NOT_COMMANDS or b.action.startswith("show(") or b.action in seen_actions:
            continue
        if not app.check_action(name, ()):
            continue
        seen_actions.add(b.action)
        add(ConsoleAction(b.description, f"key {key_label(b)}", None, b.action))
    return out


class ActionsProvider(Provider):
    """Every console action, searchable by name."""

    async def _run(self, entry: ConsoleAction) -> None:
        app = self.app
        if entry.mode is None:
            await app.run_action(entry.action)
            return
        if app.current_mode != entry.mode:
            await app.switch_mode(entry.mode)
        await app.run_action(entry.action, app.screen)

    async def discover(self) -> Hits:
        for entry in console_actions(self.app):
            yield DiscoveryHit(entry.title, partial(self._run, entry), help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in console_actions(self.app):
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.title), partial(self._run, entry), text=entry.title, help=entry.help)
