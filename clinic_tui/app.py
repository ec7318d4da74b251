"""The Textual application: screens, global bindings, session handling."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

import themes
from clinic_tui import session_store
from clinic_tui.backend import BackendStatus, EmbeddedBackend
from clinic_tui.messages import BackendStatusChanged, ServerReady, ServerUnavailable
from clinic_tui.views.login import LoginScreen

THEME_DIR = Path(themes.__file__).parent


class ClinicApp(App[None]):
    CSS_PATH = THEME_DIR / "clinic.tcss"
    TITLE = "clinic-tui"
    BINDINGS = [
        Binding(
            "ctrl+q", "quit", "Quit", id="app.quit", tooltip="Leave clinic-tui (the demo backend stops too)"
        ),
        Binding(
            "ctrl+o",
            "logout",
            "Log out",
            id="app.logout",
            tooltip="End this session and forget it on this computer",
        ),
    ]

    def __init__(self, server_url: str | None = None, *, transport=None, backend_env: dict | None = None):
        super().__init__()
        self.server_url = server_url
        self.transport = transport
        self.backend_env = backend_env
        self.backend: EmbeddedBackend | None = None
        self.client = None  # clinic_tui.api.client.ClinicClient, created once the server is known
        self.server_info = None
        self.server_id = server_url or "embedded"
        self.client_ready = asyncio.Event()
        self._keyring_warned = False

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())
        # the first paint comes first; importing the HTTP client and starting the backend follow
        self.call_after_refresh(self.connect)

    def _backend_status(self, status: BackendStatus) -> None:
        self._broadcast(BackendStatusChanged(status))

    def _broadcast(self, message) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LoginScreen):
                screen.post_message(message)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        from clinic_tui.api.client import ApiError, ClinicClient

        if self.server_url is None:
            from clinic_server.config import data_dir

            self.server_id = f"embedded:{data_dir()}"
            self.backend = EmbeddedBackend(on_status=self._backend_status, env=self.backend_env)
            await self.backend.start()
            if self.backend.failure:
                self._broadcast(ServerUnavailable(self.backend.failure))
                return
            url = self.backend.url
        else:
            url = self.server_url
        self.client = ClinicClient(url, transport=self.transport, on_refresh_token=self._remember)
        try:
            self.server_info = await self.client.info()
        except ApiError as exc:
            self._broadcast(ServerUnavailable(exc.message))
            self.client_ready.set()
            return
        self._broadcast(ServerReady(self.server_info))
        self.client_ready.set()
        remembered = await asyncio.to_thread(session_store.load, self.server_id)
        if remembered:
            username, token = remembered
            try:
                await self.client.resume(token)
            except ApiError:
                session_store.clear(self.server_id)
                return
            self.notify(f"Welcome back, {self.client.user.display_name}. Session resumed.", timeout=4)
            self.go_home()

    def _remember(self, refresh_token: str | None) -> None:
        """Called by the client on every token rotation: keep the newest in the OS keyring."""
        if refresh_token is None:
            session_store.clear(self.server_id)
            return
        user = self.client.user if self.client else None
        if user is None:
            return
        if not session_store.save(self.server_id, user.username, refresh_token) and not self._keyring_warned:
            self._keyring_warned = True
            self.notify(
                "No OS keyring is available, so this session will not be remembered: "
                "you will log in again next time.",
                severity="warning",
                timeout=8,
            )

    # ------------------------------------------------------------------ navigation

    def go_home(self) -> None:
        """Each role's home: nurses the alert queue, coaches their participants, supervisors the audit log."""
        role = self.client.user.role
        if role == "nurse":
            from clinic_tui.views.alerts import AlertQueueScreen as Home
        elif role == "supervisor":
            from clinic_tui.views.audit import AuditScreen as Home
        else:
            from clinic_tui.views.patients import PatientListScreen as Home
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(Home())

    def action_logout(self) -> None:
        if self.client is None or not self.client.logged_in:
            return
        self.logout()

    @work(exclusive=True, group="logout", exit_on_error=False)
    async def logout(self, reason: str | None = None) -> None:
        from clinic_tui.api.client import ApiError

        try:
            await self.client.logout()
        except ApiError:
            pass  # the local session is gone either way; the server token expires on its own
        self.show_login(reason or "Logged out.")

    def show_login(self, message: str | None = None) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        screen = LoginScreen(message=message)
        self.switch_screen(screen)
        if self.server_info is not None:
            screen.post_message(ServerReady(self.server_info))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "logout":
            return bool(self.client and self.client.logged_in)
        return True

    # ------------------------------------------------------------------ errors

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place where known API errors from any worker become something a user sees."""
        if event.state != WorkerState.ERROR:
            return
        from clinic_tui.api.client import ApiError, NotAuthenticated, Unreachable

        error = event.worker.error
        if isinstance(error, NotAuthenticated):
            if self.client is not None:
                self.client.forget_session()
            session_store.clear(self.server_id)
            self.show_login("Your session has ended; please log in again.")
        elif isinstance(error, Unreachable):
            self.notify(error.message, title="Server unreachable", severity="error", timeout=8)
        elif isinstance(error, ApiError):
            self.notify(error.message, severity="error", timeout=8)
        else:
            self.notify(f"Unexpected error: {error!r}", severity="error", timeout=10)

    # ------------------------------------------------------------------ shutdown

    def stop_backend(self) -> None:
        if self.backend is not None:
            self.backend.stop()

    async def on_unmount(self) -> None:
        self.stop_backend()
        if self.client is not None:
            await self.client.aclose()
