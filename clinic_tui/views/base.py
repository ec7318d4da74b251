"""The base of the app's screens."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker


class AppScreen(Screen):
    """A screen whose workers' failures reach the app's one error handler (``ClinicApp.worker_failed``).

    Textual posts ``Worker.StateChanged`` to the worker's own node and does not bubble it, so a
    request that failed in a screen's worker (server unreachable, session ended, a refused
    action) was dropped without a word unless the screen passes it on.
    """

    @on(Worker.StateChanged)
    def _pass_on_worker_state(self, event: Worker.StateChanged) -> None:
        self.app.worker_failed(event)
