"""KeyFooter: Textual's Footer in the user's language, rebuilt only when what it shows changes.

- Descriptions and tooltips are declared in English (``N_``) when a class is defined; the footer
  translates them as it draws them, so the language can be chosen after the modules are imported.
- The stock Footer recomposes (unmounts and mounts one widget per key) on every bindings update:
  each focus change, each screen resume, each ``refresh_bindings``. Here a rebuild happens only when
  the keys, their descriptions or their enabled state differ from the last one composed (the
  patient screen's open path, docs/performance.md); everything else (look, grouping, clicks) is
  the stock Footer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from clinic_tui.i18n import N_, _

#: the app's help action (clinic_tui/shell.py), shown first
HELP_ACTION = "help"
#: narrower than this, the footer is compact
NARROW = 112
#: Textual's own footer word for the command palette, translated like the rest
PALETTE = N_("palette")


def _shown(screen: Screen) -> tuple:
    return tuple(
        (binding.key, binding.action, binding.description, enabled, tooltip)
        for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
        if binding.show
    )


def shown_key(app: App, binding: Binding) -> str:
    """The key the user presses for ``binding`` (after their keymap), as the footer shows it."""
    settings = getattr(app, "settings", None)
    remapped = settings.keymap.get(binding.id) if settings is not None and binding.id else None
    key = (remapped or binding.key).split(",")[0].strip()
    return app.get_key_display(dataclasses.replace(binding, key=key))


def key_hints(app: App, bindings: Iterable[Binding]) -> str:
    """ "m Next chart · 1 7d · …": the shown ``bindings`` with their keys, for a section's title."""
    return " · ".join(f"{shown_key(app, b)} {_(b.description)}" for b in bindings if b.show)


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
            # below 112 columns (80x24) the keys sit closer, so more of them fit
            self.compact = self.app.size.width < NARROW
        widgets = []
        for widget in super().compose():
            # a key (FooterKey, not exported by Textual): the one part with a description
            if isinstance(getattr(widget, "description", None), str):
                widget.description = _(widget.description)
                if widget.tooltip:
                    widget.tooltip = _(str(widget.tooltip))
                if getattr(widget, "action", None) == HELP_ACTION:
                    # help comes first, so a narrow terminal never cuts it off, under its first key
                    # as the user's keymap has it ("?", not the F1 beside it)
                    widgets.insert(0, widget)
                    keys = self._help_keys()
                    if keys:
                        widget.key_display = keys[0]
                    continue
            widgets.append(widget)
        # in the order the screen declares its keys: Textual moves a key the keymap remapped to
        # the end, where a narrow footer cuts it off
        screen = self.screen if widgets else None
        declared = {
            b.action: i for i, b in enumerate(getattr(screen, "BINDINGS", [])) if isinstance(b, Binding)
        }
        first = 1 if widgets and getattr(widgets[0], "action", None) == HELP_ACTION else 0
        widgets[first:] = sorted(
            widgets[first:], key=lambda w: declared.get(getattr(w, "action", None), len(declared))
        )
        yield from widgets

    def _help_keys(self) -> list[str]:
        """The keys that open help now (after the keymap), function keys last."""
        keys = [
            self.app.get_key_display(binding)
            for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values()
            if binding.action == HELP_ACTION
        ]
        return sorted(keys, key=lambda k: k.lower().startswith("f") and k[1:].isdigit())

    def bindings_changed(self, screen: Screen) -> None:
        if self._composed is not None and screen is self.screen and _shown(screen) == self._composed:
            return
        self._told = True
        super().bindings_changed(screen)
