"""The session with one server: the API client, who is logged in, alert notes the server has not
saved yet, and the refresh token kept in the OS keyring so the next start resumes.

Views reach all of it through ``app.session`` (never the client or the keyring directly). No
Textual here: the app tells the session what to say through the callbacks it passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from clinic_tui import session_store
from clinic_tui.api.client import ApiError, ClinicClient, NotAuthenticated
from clinic_tui.api.schemas import UserInfo

#: (alert id, action) -> the note typed for it
DraftKey = tuple[int, str]


class ClinicSession:
    def __init__(
        self,
        client: ClinicClient,
        server_id: str,
        *,
        on_no_keyring: Callable[[], object] | None = None,
    ):
        self.client = client
        #: names the server in the keyring: its URL, or the embedded backend's database
        self.server_id = server_id
        #: notes for alert actions the server did not take, by (alert id, action): kept in memory
        #: for this session only, and filled in when the nurse acts on that alert again
        self.drafts: dict[DraftKey, str] = {}
        self._on_no_keyring = on_no_keyring
        self._keyring_warned = False
        client.on_refresh_token = self._remember

    @property
    def meeting_drafts(self):
        """The coach's unsent meetings (``meeting_drafts.DraftStore``), kept encrypted on this computer."""
        from clinic_tui.meeting_drafts import DraftStore

        owner = (self.server_id, self.user.username if self.user else "")
        if getattr(self, "_meeting_drafts", None) is None or self._meeting_drafts_owner != owner:
            self._meeting_drafts = DraftStore(*owner)
            self._meeting_drafts_owner = owner
        return self._meeting_drafts

    @property
    def user(self) -> UserInfo | None:
        return self.client.user

    @property
    def logged_in(self) -> bool:
        return self.client.logged_in

    async def login(self, username: str, password: str, otp: str | None = None) -> UserInfo:
        pair = await self.client.login(username, password, otp)
        return pair.user

    async def resume_remembered(self) -> bool:
        """Log in again with the refresh token the keyring holds for this server, if any."""
        remembered = await asyncio.to_thread(session_store.load, self.server_id)
        if not remembered:
            return False
        _username, token = remembered
        try:
            await self.client.resume(token)
        except NotAuthenticated:
            session_store.clear(self.server_id)  # spent or revoked: nothing to resume next time either
            return False
        except ApiError:
            return False  # unreachable or refused for now: the token stays for the next start
        return True

    async def logout(self) -> None:
        """End the session on the server (best effort) and here; unsaved notes go with it."""
        try:
            await self.client.logout()
        except ApiError:
            pass  # the local session is gone either way; the server's token expires on its own
        finally:
            self.drafts.clear()

    def end(self) -> None:
        """The server says the session is over: forget it here, in the keyring, and its notes."""
        self.client.forget_session()
        session_store.clear(self.server_id)
        self.drafts.clear()

    def _remember(self, refresh_token: str | None) -> None:
        """Called by the client on every token rotation: keep the newest in the OS keyring."""
        if refresh_token is None:
            session_store.clear(self.server_id)
            return
        user = self.client.user
        if user is None:
            return
        if not session_store.save(self.server_id, user.username, refresh_token) and not self._keyring_warned:
            self._keyring_warned = True
            if self._on_no_keyring is not None:
                self._on_no_keyring()

    async def aclose(self) -> None:
        await self.client.aclose()
