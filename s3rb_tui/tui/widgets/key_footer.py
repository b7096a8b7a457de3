"""The key bar at the bottom of every screen: Textual's Footer, rebuilt once per burst of binding
changes, and not before the console's first frame.

Textual's Footer schedules a full rebuild (one widget per key) for every bindings signal, and a
screen sends several at once when it opens (mount, focus, resume). The rebuild reads the bindings
when it runs, so one pending rebuild covers every signal that arrives before it. At start-up the
rebuilds (tens of milliseconds) would run before the first frame; the keys fill in right after it.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Compact (one space between a key and its label): at 80 columns every key a screen shows
    fits beside "^p Commands"; keys left out of the bar are on ? and in the palette."""

    _rebuild_pending = False

    def __init__(self) -> None:
        super().__init__(compact=True)

    def bindings_changed(self, screen: Screen) -> None:
        if self._rebuild_pending:
            return
        app = self.app
        if not getattr(app, "first_frame_shown", True):
            self._rebuild_pending = True

            def after_first_frame() -> None:
                self._rebuild_pending = False
                self.call_later(self.bindings_changed, screen)  # in this widget's context, as Textual calls it

            app.after_first_frame(after_first_frame)
            return
        # the conditions under which Footer.bindings_changed schedules a rebuild
        self._rebuild_pending = bool(app.app_focus and self.is_attached and screen is self.screen)
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        self._rebuild_pending = False  # signals from now on need a rebuild of their own
        await super().recompose()
