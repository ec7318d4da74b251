"""Typed messages between workers, widgets, screens and the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:  # pydantic is loaded after the first screen is up, not before
    from clinic_tui.api.schemas import ServerInfo
    from clinic_tui.backend import BackendStatus


class BackendStatusChanged(Message):
    """The embedded backend (or its supervisor) reports a state (``BackendStatus.state``)."""

    def __init__(self, status: BackendStatus):
        super().__init__()
        self.status = status


class ServerReady(Message):
    def __init__(self, info: ServerInfo):
        super().__init__()
        self.info = info


class ServerUnavailable(Message):
    def __init__(self, text: str):
        super().__init__()
        #: why, already worded for the user (plain text)
        self.text = text


class WorkerFailed(Message):
    """A worker ended with an error nobody recovered from: it bubbles up to the app's one handler
    (``ClinicApp.on_worker_failed``). Textual reports a worker's end only to the node that ran
    it, without bubbling, so screens and panels pass it on as this."""

    def __init__(self, error: BaseException):
        super().__init__()
        self.error = error


class ReportsWorkerFailures:
    """Mixin for a screen or widget whose workers' failures must reach the app's one error handler.

    Textual tells only the node that ran a worker how it ended, without bubbling: a request that
    failed in a screen's or a panel's worker (server unreachable, session ended, a refused action)
    would be dropped without a word. This passes each failure on as ``WorkerFailed``, which
    bubbles up to the app. Workers catch only what they recover from themselves.

    (A handler by name, not ``@on``: Textual collects ``@on`` handlers from a class's own body,
    which a mixin's are not.)
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(WorkerFailed(event.worker.error))
