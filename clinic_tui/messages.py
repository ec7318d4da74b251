"""Typed messages between workers and screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # pydantic is loaded after the first screen is up, not before
    from clinic_tui.api.schemas import ServerInfo
    from clinic_tui.backend import BackendStatus


class BackendStatusChanged(Message):
    def __init__(self, status: BackendStatus):
        super().__init__()
        self.status = status


class ServerReady(Message):
    def __init__(self, info: ServerInfo):
        super().__init__()
        self.info = info


class ServerUnavailable(Message):
    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason
