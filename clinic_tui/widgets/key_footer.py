"""KeyFooter: Textual's Footer, rebuilt only when what it shows changes.

The stock Footer recomposes (unmounts and mounts one widget per key) on every bindings update:
each focus change, each screen resume, each ``refresh_bindings``. On the patient screen that was
two to four rebuilds of ~17 keys per open, about 15 ms each, while the record and chart were
arriving. Here a rebuild happens only when the keys, their descriptions or their enabled state
differ from the last one composed; everything else (look, grouping, clicks) is the stock Footer.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def _shown(screen: Screen) -> tuple:
    return tuple(
        (binding.key, binding.action, binding.description, enabled, tooltip)
        for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
        if binding.show
    )


class KeyFooter(Footer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: the stock Footer draws nothing until its first bindings update; this mirrors that
        self._told = False
        #: what the last compose that drew keys showed
        self._composed: tuple | None = None

    def compose(self) -> ComposeResult:
        if self._told and self.is_attached:
            self._composed = _shown(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if self._composed is not None and screen is self.screen and _shown(screen) == self._composed:
            return
        self._told = True
        super().bindings_changed(screen)
