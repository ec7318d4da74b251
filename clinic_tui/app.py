"""The Textual application: screens, global bindings, session handling."""

from __future__ import annotations

import asyncio
import gc
import time
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
#: seconds after the server answers until the app settles its memory (see _settle)
SETTLE_AFTER = 0.3
#: an embedded backend that stops is started again, but not more than this many times in RESTART_WINDOW s
MAX_RESTARTS = 3
RESTART_WINDOW = 120.0
PATIENT_SCREEN = "patient"
_settled = False


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
        self._restarts: list[float] = []
        self.client = None  # clinic_tui.api.client.ClinicClient, created once the server is known
        self.server_info = None
        #: notes for alert transitions the server did not take, by (alert id, action); this session only
        self.drafts: dict[tuple[int, str], str] = {}
        self.server_id = server_url or "embedded"
        self.client_ready = asyncio.Event()
        self._keyring_warned = False

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())
        # the first paint comes first; importing the HTTP client and starting the backend follow
        self.call_after_refresh(self.connect)

    def _backend_status(self, status: BackendStatus) -> None:
        if status.state == "stopped":
            self._backend_stopped(status.message)
            return
        self._broadcast(BackendStatusChanged(status))

    def _backend_stopped(self, message: str) -> None:
        """The demo backend ended under us: start it again on the same database. The session goes on
        (its refresh token is in that database), and so does whatever is on screen, typed text too."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW] + [now]
        if len(self._restarts) > MAX_RESTARTS:
            self.notify(
                f"{message} It keeps stopping, so it is not restarted again. "
                "Nothing on screen is lost; quit (Ctrl+Q) and start clinic-tui again.",
                title="Demo backend stopped",
                severity="error",
                timeout=60,
            )
            return
        self.notify(
            f"{message} Starting it again…", title="Demo backend stopped", severity="error", timeout=8
        )
        self.restart_backend()

    @work(exclusive=True, group="backend-restart", exit_on_error=False)
    async def restart_backend(self) -> None:
        backend = EmbeddedBackend(on_status=self._backend_status, env=self.backend_env)
        self.backend = backend
        await backend.start()
        if backend.failure:
            self.notify(
                f"The demo backend could not be started again: {backend.failure}",
                severity="error",
                timeout=60,
            )
            return
        if self.client is not None:
            self.client.move_to(backend.url)
        self.notify("The demo backend is running again.", timeout=5)

    def _broadcast(self, message) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LoginScreen):
                screen.post_message(message)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        from clinic_tui.api.client import ApiError, ClinicClient

        if self.server_url is None:
            from clinic_server.settings import data_dir

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
        self.set_timer(SETTLE_AFTER, self._settle)
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
        self._settle()  # (normally done already, while the login form was being filled in)
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(Home())

    def _settle(self) -> None:
        """Once per process, after the server answered and before anyone logs in: load the screens
        opened later and put what has been built so far out of the garbage collector's reach.

        Without this, a full collection (gen 2) walked every object of Textual, httpx, pydantic and
        plotext and took 120-180 ms, and it tended to fall while a patient screen was being built:
        the largest single cost of opening a patient. After ``gc.freeze`` full collections walk only
        what was made since (CPython's documented use of ``freeze``). It runs before any person's
        data has been fetched, so nothing personal is among what is frozen (frozen objects are
        never freed).
        """
        global _settled
        if _settled:
            return
        _settled = True
        import clinic_tui.views.patient  # noqa: F401 - plotext and the chart, before the first `o`
        import clinic_tui.views.patients  # noqa: F401

        gc.collect()
        gc.freeze()

    def open_patient(
        self, person_id: str, focus_loinc: str | None = None, focus_alert: int | None = None
    ) -> None:
        """Show one person's record on the app's one patient screen (see views/patient.py)."""
        from clinic_tui.views.patient import PatientScreen

        if not self.is_screen_installed(PATIENT_SCREEN):
            self.install_screen(PatientScreen(), PATIENT_SCREEN)
        screen = self.get_screen(PATIENT_SCREEN)
        while screen in self.screen_stack and self.screen is not screen:
            self.pop_screen()
        screen.open(person_id, focus_loinc, focus_alert)
        if self.screen is not screen:
            self.push_screen(screen)

    def action_logout(self) -> None:
        if self.client is None or not self.client.logged_in:
            return
        if not self.drafts:
            self.logout()
            return
        from clinic_tui.widgets.modals import ConfirmPrompt

        n = len(self.drafts)
        question = (
            f"{n} alert note{'s' if n != 1 else ''} the server has not saved yet "
            f"({'they are' if n != 1 else 'it is'} filled in when you act on the alert again). "
            "Logging out discards them. Log out anyway?"
        )
        self.push_screen(ConfirmPrompt(question), lambda yes: yes and self.logout())

    @work(exclusive=True, group="logout", exit_on_error=False)
    async def logout(self, reason: str | None = None) -> None:
        from clinic_tui.api.client import ApiError

        try:
            await self.client.logout()
        except ApiError:
            pass  # the local session is gone either way; the server token expires on its own
        self.show_login(reason or "Logged out.")

    def show_login(self, message: str | None = None) -> None:
        self.drafts.clear()  # notes about patients do not outlive the session
        patient = self.get_screen(PATIENT_SCREEN) if self.is_screen_installed(PATIENT_SCREEN) else None
        on_stack = patient is not None and patient in self.screen_stack
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if patient is not None:  # the patient screen goes with the session, emptied
            patient.stop_loading()
            patient.wipe()
            self.uninstall_screen(PATIENT_SCREEN)
            if not on_stack:
                patient.remove()  # (a popped screen that is not installed is removed by the pop)
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
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place where known API errors from any worker become something a user sees
        (the app's own workers; screens pass theirs on, see ``views.base.AppScreen``)."""
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
        if self.backend is not None:
            await self.backend.aclose()  # gone before the event loop is
