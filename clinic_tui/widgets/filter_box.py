"""FilterBox: the `/` filter of a list screen (k9s style): hidden until opened, Esc empties it."""

from __future__ import annotations

from textual.widgets import Input


class FilterBox(Input):
    def __init__(self, placeholder: str, *, id: str = "filter"):
        super().__init__(placeholder=placeholder, id=id, classes="hidden")

    def open(self) -> None:
        self.remove_class("hidden")
        self.focus()

    def close(self) -> None:
        """Empty (only if it holds text: an emptied box posts Input.Changed) and hide it."""
        if self.value:
            self.value = ""
        self.add_class("hidden")
