"""HelpScreen: ``?`` or F1 on any screen: that screen's keys (as the user's keymap remaps them) and
what they do, then what the screen's columns and states mean.

Built from the screen beneath as it is (its active bindings: the screen's, the focused widget's and
the app's), so a new screen has help without code of its own; a screen adds its own words with a
``HELP`` class attribute (marked with ``N_``, one paragraph per blank line). Esc, ``?`` or F1 close
it; it never navigates.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from clinic_tui.i18n import N_, _

#: the help of a screen that says nothing of its own
NO_HELP = ""


def key_rows(screen: Screen) -> list[tuple[str, str, str, bool]]:
    """(key as pressed, what it does, more) for each key the screen answers to now, after the keymap:
    the screen's own keys first, then those of the part in focus, then the app's.

    Only the app's bindings, which all have ids a keymap can name, are listed: Textual's generic
    ones (focus next, scroll left) are the same everywhere and not in the catalogue."""
    app = screen.app
    rows: dict[str, tuple[str, str, str, bool]] = {}
    ordered = sorted(
        screen.active_bindings.items(),
        key=lambda item: 0 if item[1][0] is screen else 2 if item[1][0] is app else 1,
    )
    for key, (_node, binding, enabled, tooltip) in ordered:
        if not binding.description or not binding.id:
            continue
        shown = app.get_key_display(binding.with_key(key))
        description = _(binding.description)
        more = _(str(tooltip or binding.tooltip)) if (tooltip or binding.tooltip) else ""
        # one row per action: its keys together ("k, ctrl+k")
        ident = binding.id or binding.action
        if ident in rows:
            keys, description, more, enabled = rows[ident]
            shown = f"{keys}, {shown}"
        rows[ident] = (shown, description, more, enabled)
    return list(rows.values())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding(
            "escape,question_mark,f1", "close", N_("Close"), id="help.close", tooltip=N_("Close the help")
        ),
    ]

    def __init__(self, screen: Screen):
        super().__init__()
        self.rows = key_rows(screen)
        self.about = _(getattr(screen, "HELP_TEXT", NO_HELP) or NO_HELP)
        self.heading = str(screen.title or screen.app.title)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column(_("Key"), no_wrap=True)
        table.add_column(_("Does"), ratio=1)
        table.add_column(_("More"), ratio=2, style="dim")
        for key, description, more, enabled in self.rows:
            # a key that does nothing now (the alert is not in a state for it) is listed, dimmed
            style = "" if enabled else "dim"
            table.add_row(Text(key, style=style), Text(description, style=style), Text(more))
        with VerticalScroll(classes="modal-box", id="help-box"):
            yield Static(Text(_("Help — {screen}").format(screen=self.heading)), classes="modal-title")
            yield Static(table, id="help-keys")
            if self.about:
                yield Static(Text(self.about), id="help-about")
            yield Static(Text(_("Esc closes this help. Ctrl+P lists every command.")), classes="muted")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()  # (arrows and PageDown scroll it)

    def action_close(self) -> None:
        self.dismiss(None)
