"""The Textual application: screens, global bindings, navigation, and the one error handler.

What it leans on: ``session`` (the client, the user, unsaved notes, the keyring), ``backend`` (the
embedded server and its restarts), ``errors`` (what a failure says), ``settings`` (server,
language, theme, keys) and ``i18n`` (the one translation function).
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.binding import Binding
from textual.worker import Worker, WorkerState

import themes
from clinic_tui import i18n
from clinic_tui.backend import BackendStatus, BackendSupervisor
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.messages import BackendStatusChanged, ServerReady, ServerUnavailable, WorkerFailed
from clinic_tui.shell import ShellApp
from clinic_tui.views.login import LoginScreen

if TYPE_CHECKING:
    from clinic_tui.api.schemas import ServerInfo
    from clinic_tui.session import ClinicSession
    from clinic_tui.settings import ClientSettings

THEME_DIR = Path(themes.__file__).parent
#: seconds after the server answers until the app settles its memory (see _settle)
SETTLE_AFTER = 0.3
PATIENT_SCREEN = "patient"
_settled = False


class ClinicApp(ShellApp):
    """(Language, help, the palette's commands and the idle lock: ``ShellApp``, clinic_tui/shell.py.)"""

    CSS_PATH = THEME_DIR / "clinic.tcss"
    TITLE = "clinic-tui"
    BINDINGS = [
        Binding(
            "ctrl+q",
            "quit",
            N_("Quit"),
            id="app.quit",
            tooltip=N_("Leave clinic-tui (the demo backend stops too)"),
        ),
        Binding(
            "ctrl+o",
            "logout",
            N_("Log out"),
            id="app.logout",
            tooltip=N_("End this session and forget it on this computer"),
        ),
        # Tab moves focus as the key arrives, not after the keys typed behind it: without priority
        # the focused field reads a fast typist's (or an auto-typer's) next characters first, and
        # "181<Tab>84" became a height of 18184 (the login's fields do the same for Enter)
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        server_url: str | None = None,
        transport=None,
        backend_env: dict | None = None,
        language: str | None = None,
        collect_after_first_paint: bool = False,
    ):
        """``settings`` None: read them after the first paint (nothing was configured, only the
        ``language``, or a test); ``server_url`` overrides the settings' server."""
        super().__init__()
        if settings is not None and server_url is not None:
            settings = settings.model_copy(update={"server": server_url})
        self.settings = settings
        self._server_url = server_url
        self.transport = transport
        self.backend_env = backend_env
        self.supervisor: BackendSupervisor | None = None
        self.session: ClinicSession | None = None
        self.server_info: ServerInfo | None = None
        #: set once the server is known (reachable or not)
        self.client_ready = asyncio.Event()
        #: the language given before the settings were read (``__main__._only_a_language``)
        self._early_language = language
        #: ``clinic-tui`` starts with the garbage collector off (``__main__``): on after the first paint
        self._collect_after_first_paint = collect_after_first_paint
        i18n.set_language(settings.language if settings is not None else language or i18n.LANGUAGES[0])

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        if self.settings is not None:
            self._apply_settings()
        self.push_screen(LoginScreen())
        # the first paint comes first; importing the HTTP client and starting the backend follow
        self.call_after_refresh(self.after_first_paint)
        self.call_after_refresh(self.connect)

    def after_first_paint(self) -> None:
        if self._collect_after_first_paint:
            self._collect_after_first_paint = False
            gc.enable()

    def _apply_settings(self) -> None:
        settings = self.settings
        i18n.set_language(settings.language)
        if settings.theme:
            if settings.theme in self.available_themes:
                self.theme = settings.theme
            else:
                self.notify(
                    _("There is no theme “{theme}”; the default is used.").format(theme=settings.theme),
                    title=_("Settings"),
                    severity="warning",
                    markup=False,
                )
        if settings.keymap:
            self.set_keymap(settings.keymap)

    def _read_settings(self) -> None:
        """Nothing was configured when the app started (or a test made it): read the settings now."""
        from clinic_tui.settings import ClientSettings, SettingsError, load_settings

        try:
            # (the language shown now: the one given, or the one F2 chose since)
            language = i18n.language() if self._early_language else None
            self.settings = load_settings(server=self._server_url, language=language)
        except SettingsError as exc:
            self.settings = ClientSettings.model_construct(server=self._server_url, language=i18n.language())
            self.notify(str(exc), title=_("Settings not used"), severity="error", timeout=15, markup=False)
        self._apply_settings()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        try:
            await self._connect()
        finally:
            self.client_ready.set()

    async def _connect(self) -> None:
        from clinic_tui.api.client import ApiError, ClinicClient
        from clinic_tui.errors import describe
        from clinic_tui.session import ClinicSession

        if self.settings is None:
            self._read_settings()
        if self.settings.server is None:
            self.supervisor = BackendSupervisor(self._post_backend_status, env=self.backend_env)
            backend = await self.supervisor.start()
            if backend.failure is not None:
                return  # the login screen has been told (BackendStatusChanged "failed")
            url, server_id = backend.url, f"embedded:{backend.database}"
        else:
            url = server_id = self.settings.server
        client = ClinicClient(url, transport=self.transport, ca_file=self.settings.ca_file)
        self.session = ClinicSession(client, server_id, on_no_keyring=self._no_keyring)
        try:
            self.server_info = await client.info()
        except ApiError as exc:
            self._broadcast(ServerUnavailable(describe(exc).text))
            return
        self._broadcast(ServerReady(self.server_info))
        self.set_timer(SETTLE_AFTER, self._settle)
        if await self.session.resume_remembered():
            self.notify(
                _("Welcome back, {name}. Session resumed.").format(name=self.session.user.display_name),
                timeout=4,
                markup=False,
            )
            self.go_home()

    def _no_keyring(self) -> None:
        self.notify(
            _(
                "No OS keyring is available, so this session will not be remembered: "
                "you will log in again next time."
            ),
            severity="warning",
            timeout=8,
        )

    def _post_backend_status(self, status: BackendStatus) -> None:
        self.post_message(BackendStatusChanged(status))

    @on(BackendStatusChanged)
    def _backend_status(self, event: BackendStatusChanged) -> None:
        """The login screen shows how the backend is starting; a stop under way is a notice."""
        status = event.status
        stopped = _("The demo backend stopped (exit {code}).").format(code=status.exit_code)
        if status.detail:
            stopped += " " + status.detail
        if status.state == "restarting":
            self.notify(
                stopped + " " + _("Starting it again…"),
                title=_("Demo backend stopped"),
                severity="error",
                # stays while a slow start goes on (a busy machine takes many seconds)
                timeout=30,
                markup=False,
            )
        elif status.state == "given_up":
            self.notify(
                stopped
                + " "
                + _(
                    "It keeps stopping, so it is not restarted again. Nothing on screen is lost; "
                    "quit (Ctrl+Q) and start clinic-tui again."
                ),
                title=_("Demo backend stopped"),
                severity="error",
                timeout=60,
                markup=False,
            )
        elif status.state == "restart_failed":
            self.notify(
                _("The demo backend could not be started again: {detail}").format(detail=status.detail),
                severity="error",
                timeout=60,
                markup=False,
            )
        elif status.state == "restarted":
            if self.session is not None:
                self.session.client.move_to(status.url)
            self.notify(_("The demo backend is running again."), timeout=5)
        elif status.state != "stopped":
            self._broadcast(BackendStatusChanged(status))

    def _broadcast(self, message) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LoginScreen):
                screen.post_message(message)

    # ------------------------------------------------------------------ navigation

    def go_home(self) -> None:
        """Each role's home: nurses the alert queue, supervisors the audit log, coaches their
        participants, report analysts the employer reports."""
        from clinic_tui.domain.roles import Role

        role = self.session.user.role
        if role == Role.NURSE:
            from clinic_tui.views.alerts import AlertQueueScreen as Home
        elif role == Role.SUPERVISOR:
            from clinic_tui.views.audit import AuditScreen as Home
        elif role == Role.COACH:
            from clinic_tui.views.participants import ParticipantListScreen as Home
        elif role == Role.PRIVACY_OFFICER:
            from clinic_tui.views.subjects import SubjectScreen as Home
        elif role == Role.REPORT_ANALYST:
            from clinic_tui.views.reports import ReportsScreen as Home
        else:
            from clinic_tui.views.patients import PatientListScreen as Home
        self._settle()  # (normally done already, while the login form was being filled in)
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(Home())

    def _settle(self) -> None:
        """Once per process, after the server answered and before anyone logs in: load the screens
        opened later and put what has been built so far out of the garbage collector's reach.

        A full collection walks every object of Textual, httpx, pydantic and plotext, and tended to
        fall while a patient screen was being built; after ``gc.freeze`` full collections walk only
        what was made since (CPython's documented use of ``freeze``; figures in
        docs/performance.md). It runs before any person's data has been fetched, so nothing
        personal is among what is frozen (frozen objects are never freed).
        """
        global _settled
        if _settled:
            return
        _settled = True
        import clinic_tui.views.patient  # noqa: F401 - plotext, the chart and the panels, before the first `o`
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
        if self.session is None or not self.session.logged_in:
            return
        drafts = len(self.session.drafts)
        if not drafts:
            self.logout()
            return
        from clinic_tui.widgets.modals import ConfirmPrompt

        question = ngettext(
            "{n} alert note the server has not saved yet (it is filled in when you act on the alert "
            "again). Logging out discards it. Log out anyway?",
            "{n} alert notes the server has not saved yet (they are filled in when you act on the "
            "alerts again). Logging out discards them. Log out anyway?",
            drafts,
        ).format(n=drafts)
        self.push_screen(ConfirmPrompt(question), lambda yes: yes and self.logout())

    @work(exclusive=True, group="logout", exit_on_error=False)
    async def logout(self, reason: str | None = None) -> None:
        await self.session.logout()
        self.show_login(reason or _("Logged out."))

    def show_login(self, message: str | None = None) -> None:
        if self.session is not None:
            self.session.drafts.clear()  # notes about patients do not outlive the session
        self.clear_notifications()  # nor do toasts about them (issue 13.1)
        self.drop_patient_screen()
        screen = LoginScreen(message=message)
        self.switch_screen(screen)
        if self.server_info is not None:
            screen.post_message(ServerReady(self.server_info))

    def drop_patient_screen(self) -> None:
        """Back to the home screen; the patient screen goes, emptied (a session's end, a new language)."""
        patient = self.get_screen(PATIENT_SCREEN) if self.is_screen_installed(PATIENT_SCREEN) else None
        on_stack = patient is not None and patient in self.screen_stack
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if patient is not None:
            patient.stop_loading()
            patient.wipe()
            self.uninstall_screen(PATIENT_SCREEN)
            if not on_stack:
                patient.remove()  # (a popped screen that is not installed is removed by the pop)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "logout":
            return bool(self.session and self.session.logged_in)
        return super().check_action(action, parameters)

    # ------------------------------------------------------------------ errors

    @on(WorkerFailed)
    def on_worker_failed(self, event: WorkerFailed) -> None:
        """Failures from the screens' and panels' workers (they pass them on as WorkerFailed)."""
        event.stop()
        self.report(event.error)

    @on(Worker.StateChanged)
    def _own_worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report(event.worker.error)

    def report(self, error: BaseException) -> None:
        """The one place where a failure nobody recovered from becomes something the user sees."""
        from clinic_tui.api.client import NotAuthenticated
        from clinic_tui.errors import describe

        problem = describe(error)
        if isinstance(error, NotAuthenticated):
            if self.session is not None:
                self.session.end()
            self.show_login(problem.text)
            return
        timeout = 10 if problem.severity == "error" else 8
        self.notify(
            problem.text, title=problem.title, severity=problem.severity, timeout=timeout, markup=False
        )

    # ------------------------------------------------------------------ shutdown

    def stop_backend(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()

    async def on_unmount(self) -> None:
        self.stop_backend()
        if self.session is not None:
            await self.session.aclose()
        if self.supervisor is not None:
            await self.supervisor.aclose()  # gone before the event loop is
