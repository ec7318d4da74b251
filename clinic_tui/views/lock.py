"""LockScreen: after the idle time the settings give (``lock_minutes``), the app covers everything
with this screen until the logged-in user gives the password (and code) again.

It is a full screen, not a dialog: nothing of the screens beneath (names, values, a dialog's typed
note) is drawn while it is up, and the app clears its notifications as it locks. The screens
beneath stay as they were, so what was typed is there again after unlocking. Logging out (Ctrl+O)
and quitting stay possible.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from clinic_tui.i18n import _
from clinic_tui.views.base import AppScreen
from clinic_tui.widgets.key_footer import KeyFooter


class LockScreen(AppScreen):
    #: the palette and help show nothing here (see the app's check_action)
    LOCKED = True

    def __init__(self, username: str):
        super().__init__()
        self.username = username

    def compose(self) -> ComposeResult:
        with Horizontal(id="login-row"):
            with Vertical(id="login-box"):
                yield Static(_("clinic-tui · locked"), id="brand")
                note = _("Locked after a while without use. {user}: your password to go on.")
                yield Static(Text(note.format(user=self.username)), id="lock-note")
                yield Input(placeholder=_("Password"), password=True, id="lock-password", max_length=1024)
                yield Input(
                    placeholder=_("6-digit code from your authenticator"),
                    id="lock-otp",
                    classes="hidden",
                    max_length=10,
                    restrict=r"[0-9 ]*",
                )
                yield Button(_("Unlock"), id="unlock", variant="primary")
                yield Static("", id="lock-error")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = _("Locked")
        self.query_one("#lock-password", Input).focus()

    def show_error(self, text: str) -> None:
        self.query_one("#lock-error", Static).update(Text(text))

    @on(Input.Submitted)
    @on(Button.Pressed, "#unlock")
    def _submit(self) -> None:
        password = self.query_one("#lock-password", Input).value
        otp_input = self.query_one("#lock-otp", Input)
        otp = otp_input.value.replace(" ", "") if otp_input.display else None
        if not password:
            self.show_error(_("Enter your password."))
            self.query_one("#lock-password", Input).focus()
            return
        if otp_input.display and not otp:
            # (Enter in the password field after a wrong code: on to the code)
            self.show_error(_("Enter the code from your authenticator app."))
            otp_input.focus()
            return
        self.unlock(password, otp)

    @work(exclusive=True, group="unlock", exit_on_error=False)
    async def unlock(self, password: str, otp: str | None) -> None:
        from clinic_tui.api.client import ApiError, OtpRequired, Unreachable
        from clinic_tui.errors import describe

        try:
            await self.app.session.login(self.username, password, otp)
        except OtpRequired as exc:
            otp_input = self.query_one("#lock-otp", Input)
            otp_input.remove_class("hidden")
            otp_input.focus()
            self.show_error(describe(exc).text)
            return
        except Unreachable as exc:
            self.show_error(describe(exc).text + " " + _("Your input is kept; try again."))
            return
        except ApiError as exc:
            # a wrong password or code: both are typed again (a code is good for one try and 30 s),
            # from the password field; the screens beneath stay locked and as they were
            self.show_error(describe(exc).text)
            for input_id in ("#lock-otp", "#lock-password"):
                self.query_one(input_id, Input).value = ""
            self.query_one("#lock-password", Input).focus()
            return
        for input_id in ("#lock-password", "#lock-otp"):
            self.query_one(input_id, Input).value = ""
        self.app.unlocked(self)
