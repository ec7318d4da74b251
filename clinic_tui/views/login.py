"""Login screen: shown at once, usable while the backend is still starting."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from clinic_tui.i18n import N_, _
from clinic_tui.messages import BackendStatusChanged, ServerReady, ServerUnavailable
from clinic_tui.views.base import AppScreen
from clinic_tui.widgets.key_footer import KeyFooter

#: what the login screen says while the embedded backend starts, by its state
BACKEND_TEXT = {
    "starting": N_("Starting the demo backend…"),
    "migrating": N_("Preparing the demo database…"),
    "seeding": N_("Loading demo data (first run only)…"),
    "ready": N_("Demo backend ready."),
}


class LoginScreen(AppScreen):
    AREA = N_("Log in")
    HELP_TEXT = N_(
        "Log in with your username and password (and the code from your authenticator app if asked). "
        "F2 switches between Swedish and English."
    )
    BINDINGS = [
        Binding("escape", "clear", N_("Clear"), id="login.clear", tooltip=N_("Clear the form and any error")),
        # checked as the key arrives, not after the username field has read it: a password manager's
        # auto-type (``user{TAB}password{ENTER}``) comes in one burst, and a focus move made when the
        # field handles Enter would come after the whole password had gone into the username (Tab:
        # the app's own priority binding, ClinicApp.BINDINGS, moves focus as it arrives everywhere)
        Binding("enter", "to_password", show=False, priority=True),
    ]

    def __init__(self, message: str | None = None):
        super().__init__()
        self.initial_message = message
        self.demo_passwords: dict[str, str] = {}
        #: the server has answered (a backend status that arrives later is old news)
        self.connected = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="login-row"):
            with Vertical(id="login-box"):
                yield Static(_("clinic-tui · sign in"), id="brand")
                yield Static(_("Connecting to the server…"), id="backend-status")
                yield Input(placeholder=_("Username"), id="username", max_length=80)
                yield Input(placeholder=_("Password"), password=True, id="password", max_length=1024)
                yield Input(
                    placeholder=_("6-digit code from your authenticator"),
                    id="otp",
                    classes="hidden",
                    max_length=10,
                    restrict=r"[0-9 ]*",
                )
                yield Button(_("Log in"), id="login", variant="primary")
                yield Static("", id="login-error")
                yield Static("", id="keyring-note")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#username", Input).focus()
        if self.initial_message:
            self.show_error(self.initial_message)
        # looking for a keyring backend costs ~100 ms: not before the first paint, not on the UI thread
        self.call_after_refresh(self.check_keyring)

    @work(thread=True, group="keyring-check", exit_on_error=False)
    def check_keyring(self) -> None:
        from clinic_tui import session_store

        if not session_store.available():
            self.app.call_from_thread(
                self.query_one("#keyring-note", Static).update,
                _("No OS keyring found: your session will not be remembered after you quit."),
            )

    # ------------------------------------------------------------------ server status

    @on(BackendStatusChanged)
    def _status(self, event: BackendStatusChanged) -> None:
        status = event.status
        if self.connected:
            return
        label = self.query_one("#backend-status", Static)
        if status.state == "failed":
            text = _("The demo backend could not start (exit {code}).").format(code=status.exit_code)
            label.update(Text(f"{text} {status.detail}".strip()))
        elif status.state in BACKEND_TEXT:
            label.update(_(BACKEND_TEXT[status.state]))
        label.set_class(status.state == "failed", "-failed")

    @on(ServerReady)
    def _ready(self, event: ServerReady) -> None:
        from clinic_tui import labels  # (the domain's vocabulary: not before the first paint)

        info = event.info
        self.connected = True
        label = self.query_one("#backend-status", Static)
        label.set_class(False, "-failed")
        connected = _("Connected to {name} {version}").format(name=info.name, version=info.version)
        label.update(Text(connected + (" " + _("(demo data)") if info.demo else "")))
        if info.demo_accounts and not self.query("#demo-box"):
            # built only when a demo server lists accounts: nothing of it before the first paint
            for acc in info.demo_accounts:
                self.demo_passwords[acc.username] = acc.password
            options = OptionList(
                *[
                    Option(Text(f"{a.username:<8} {labels.role(a.role):<10} {a.organization}"), id=a.username)
                    for a in info.demo_accounts
                ],
                id="demo-accounts",
            )
            heading = _("Demo accounts (password {password}) — Enter to fill in").format(
                password=info.demo_accounts[0].password
            )
            box = Vertical(Static(Text(heading), classes="muted"), options, id="demo-box")
            self.query_one("#login-row").mount(box)

    @on(ServerUnavailable)
    def _unavailable(self, event: ServerUnavailable) -> None:
        label = self.query_one("#backend-status", Static)
        label.update(Text(_("Server unavailable: {reason}").format(reason=event.text)))
        label.set_class(True, "-failed")

    # ------------------------------------------------------------------ form

    @on(OptionList.OptionSelected, "#demo-accounts")
    def _pick_demo(self, event: OptionList.OptionSelected) -> None:
        username = event.option.id or ""
        self.query_one("#username", Input).value = username
        self.query_one("#password", Input).value = self.demo_passwords.get(username, "")
        self.query_one("#password", Input).focus()

    def action_to_password(self) -> None:
        """Enter in the username field: on to the password, before the next key is routed."""
        if self.focused is not self.query_one("#username", Input):
            raise SkipAction()  # elsewhere Enter does what it always does
        self.set_focus(self.query_one("#password", Input))

    @on(Input.Submitted, "#password")
    @on(Input.Submitted, "#otp")
    @on(Button.Pressed, "#login")
    def _submit(self) -> None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        otp_input = self.query_one("#otp", Input)
        otp = otp_input.value.replace(" ", "") if otp_input.display else None
        if not username or not password:
            self.show_error(_("Enter both username and password."))
            return
        if otp_input.display and not otp:
            self.show_error(_("Enter the code from your authenticator app."))
            return
        self.show_error("")
        self.query_one("#login", Button).disabled = True
        self.attempt_login(username, password, otp)

    def show_error(self, text: str) -> None:
        """Plain text (it may carry what the server sent): never read as markup."""
        self.query_one("#login-error", Static).update(Text(text))

    def action_clear(self) -> None:
        for input_id in ("#username", "#password", "#otp"):
            self.query_one(input_id, Input).value = ""
        self.query_one("#otp", Input).add_class("hidden")
        self.show_error("")
        self.query_one("#username", Input).focus()

    @work(exclusive=True, group="login", exit_on_error=False)
    async def attempt_login(self, username: str, password: str, otp: str | None) -> None:
        """Every refusal is shown in the form, which keeps what can be tried again."""
        from clinic_tui.api.client import ApiError, LockedOut, OtpRequired, Unreachable
        from clinic_tui.errors import describe

        button = self.query_one("#login", Button)
        try:
            if not self.app.client_ready.is_set():
                self.show_error(_("Waiting for the server to start…"))
                await self.app.client_ready.wait()
            if self.app.session is None:
                self.show_error(_("The server is not available, so you cannot log in yet."))
                return
            await self.app.session.login(username, password, otp)
        except OtpRequired as exc:
            otp_input = self.query_one("#otp", Input)
            otp_input.remove_class("hidden")
            otp_input.focus()
            self.show_error(describe(exc).text)
            return
        except LockedOut as exc:
            self.show_error(describe(exc).text)
            return
        except Unreachable as exc:
            self.show_error(describe(exc).text + " " + _("Your input is kept; try again."))
            return
        except ApiError as exc:
            self.show_error(describe(exc).text)
            self.query_one("#password", Input).value = ""
            self.query_one("#password", Input).focus()
            return
        finally:
            button.disabled = False
        # the password (and code) leave the form once used: the form object may outlive the screen
        for input_id in ("#password", "#otp"):
            self.query_one(input_id, Input).value = ""
        self.app.go_home()
