"""The baseline for bench_startup.py: a bare Textual app that shows one line and nothing else."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

READY_TEXT = "bare app ready"


class BareApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(READY_TEXT)


if __name__ == "__main__":
    BareApp().run()
