"""A save acts on everything typed before it.

Ctrl+S is a priority binding: the app runs its action the moment the key comes off the app's
queue. The keys before it went to the focused field's own queue, and in a burst (a paste, a fast
typist, a barcode scanner) the field may not have handled them yet: the dialog would read the
text before the last characters, or nothing at all ("This cannot be empty"), and only a second
Ctrl+S would save.

``after_typing`` runs the save behind those keys: Textual handles each widget's messages in the
order they were posted, so a callback posted to a field (``call_later``) runs after every key that
reached the field before it. It goes through the screen's text fields in turn (a key went to
whichever had the focus when it arrived), then runs the save on the screen, if it is still shown.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen
from textual.widgets import Input, TextArea


def after_typing(screen: Screen, save: Callable[[], object]) -> None:
    """Run ``save`` on ``screen`` once each of its text fields has handled the keys sent to it."""
    fields = [w for w in screen.query("Input, TextArea") if isinstance(w, Input | TextArea)]

    def run() -> None:
        if screen.is_active:  # (not dismissed meanwhile: by an earlier save, or Esc in the burst)
            save()

    def step(index: int) -> None:
        while index < len(fields):
            # (a field that is closing takes no callback: go on to the next)
            if fields[index].call_later(step, index + 1):
                return
            index += 1
        screen.call_later(run)

    step(0)
