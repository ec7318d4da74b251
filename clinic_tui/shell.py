"""What every screen of the app shares, kept out of ``app.py`` and out of the screens: the
language (switched at run time, remembered in the settings file), help (``?``/F1), the command
palette's commands, and the idle lock.

All of it works from what a screen already declares (its BINDINGS with ids and descriptions,
optionally a ``HELP_TEXT`` and an ``AREA``), so a new screen gets help, palette entries, the
keymap and the lock without code of its own. docs/workday.md describes it for users.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from clinic_tui import i18n
from clinic_tui.i18n import N_, _

#: seconds between checks of the idle time
LOCK_CHECK_SECONDS = 1.0
#: the idle time when there are no settings to say it
DEFAULT_LOCK_MINUTES = 10.0
#: each language as its own speakers name it (the palette offers the switch in these words)
LANGUAGE_NAMES = {"en": "English", "sv": "Svenska"}
#: the area a binding belongs to, by the first part of its id ("alert.acknowledge" -> Alert)
AREAS = {
    "app": N_("App"),
    "alert": N_("Alert"),
    "alerts": N_("Alerts"),
    "patients": N_("Patients"),
    "patient": N_("Patient"),
    "panel": N_("Patient"),
    "chart": N_("Chart"),
    "table": N_("Table"),
    "audit": N_("Audit"),
    "login": N_("Log in"),
    "prompt": N_("Dialog"),
    "help": N_("Help"),
}
#: Textual's own palette commands, in our words (so they are translated too)
TEXTUAL_COMMANDS = {
    "Theme": (N_("App: Theme"), N_("Change the colours")),
    "Quit": (N_("App: Quit"), N_("Leave clinic-tui (the demo backend stops too)")),
    "Screenshot": (N_("App: Screenshot"), N_("Save an SVG picture of the screen")),
    "Maximize": (N_("App: Maximize"), N_("Let the focused part fill the screen")),
    "Minimize": (N_("App: Minimize"), N_("Back to the normal layout")),
}


def area_of(binding: Binding, screen: Screen) -> str:
    prefix = (binding.id or "").split(".", 1)[0]
    if prefix in AREAS:
        return _(AREAS[prefix])
    area = getattr(screen, "AREA", None)
    return _(area) if area else prefix.capitalize() or _("App")


class ShellApp(App[None]):
    #: the screen gets a class for its size: "-narrow" below 112 columns, "-short" below 30 rows
    #: (themes/clinic.tcss fits the layouts to 80x24 with them)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (112, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding(
            "question_mark,f1",
            "help",
            N_("Help"),
            id="app.help",
            tooltip=N_("The keys of this screen and what its columns and states mean"),
        ),
        Binding(
            "f2",
            "switch_language",
            N_("Språk/Language"),
            id="app.language",
            tooltip=N_("Switch between Swedish and English (remembered for next time)"),
            show=False,
        ),
        Binding(
            "f12",
            "lock",
            N_("Lock"),
            id="app.lock",
            tooltip=N_("Lock the screen now; your password opens it again"),
            show=False,
            priority=True,  # (also from inside a text box: a dialog's note area takes every key)
        ),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_input = time.monotonic()

    def on_mount(self) -> None:
        self.set_interval(LOCK_CHECK_SECONDS, self.check_idle_lock, name="idle-lock")

    # ------------------------------------------------------------------ language

    def action_switch_language(self) -> None:
        other = [code for code in i18n.LANGUAGES if code != i18n.language()]
        self.switch_language(other[0])

    def switch_language(self, code: str) -> None:
        """Show the UI in ``code`` from now on, redraw what is on screen in it, and remember it."""
        from clinic_tui.settings import SettingsError, save_language

        if code == i18n.language():
            return
        if self.in_dialog:
            self.notify(_("Close the dialog first; the language then changes at once."), severity="warning")
            return
        i18n.set_language(code)
        settings = getattr(self, "settings", None)
        if settings is not None:
            self.settings = settings.model_copy(update={"language": code})
        try:
            save_language(code)
        except (OSError, SettingsError) as exc:
            self.notify(
                _("The language could not be saved in the settings file: {error}").format(error=exc),
                severity="warning",
                markup=False,
            )
        self.redraw_in_language()

    def redraw_in_language(self) -> None:
        """The screens were composed in the old language: build them again (what the session holds,
        such as unsaved alert notes, stays; a patient record open on screen is opened again)."""
        session = getattr(self, "session", None)
        if session is None or not session.logged_in:
            self.show_login()
            return
        person = getattr(self.screen, "person_id", None)
        self.drop_patient_screen()
        self.go_home()
        if person:
            self.open_patient(person)

    # ------------------------------------------------------------------ help and palette

    @property
    def is_locked(self) -> bool:
        from clinic_tui.views.lock import LockScreen

        return any(isinstance(s, LockScreen) for s in self.screen_stack)

    def action_help(self) -> None:
        from clinic_tui.widgets.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(self.screen))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("help", "command_palette", "switch_language", "lock") and self.is_locked:
            return False  # nothing of the locked session is offered
        if action == "switch_language" and self.in_dialog:
            return False  # the screens are built again: not while a dialog holds what was typed
        return True

    @property
    def in_dialog(self) -> bool:
        """A dialog (not the palette or help) is open: what is typed in it must not be rebuilt away."""
        from textual.command import CommandPalette

        from clinic_tui.widgets.help import HelpScreen

        return any(
            isinstance(s, ModalScreen) and not isinstance(s, CommandPalette | HelpScreen)
            for s in self.screen_stack
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the screen (as "Area: action", with its key after the keymap), going
        home, the language, help and the lock; Textual's own commands in our words."""
        from clinic_tui.widgets.help import HelpScreen

        if self.is_locked or isinstance(screen, HelpScreen):
            return
        yield SystemCommand(_("App: Help"), "? / F1 · " + _("The keys of this screen"), self.action_help)
        seen = {"help"}
        ordered = sorted(
            screen.active_bindings.items(),
            key=lambda item: 0 if item[1][0] is screen else 2 if item[1][0] is self else 1,
        )
        for key, (node, binding, enabled, tooltip) in ordered:
            if not enabled or not binding.description or not binding.id or binding.action in seen:
                continue
            seen.add(binding.action)
            keys = self.get_key_display(binding.with_key(key))
            more = _(str(tooltip or binding.tooltip)) if (tooltip or binding.tooltip) else ""
            yield SystemCommand(
                f"{area_of(binding, screen)}: {_(binding.description)}",
                f"{keys} · {more}" if more else keys,
                lambda action=binding.action, node=node: self.run_action(action, node),
            )
        session = getattr(self, "session", None)
        if session is not None and session.logged_in:
            yield SystemCommand(
                _("Go: Home"), _("Back to where you start (your queue or list)"), self.go_home
            )
            yield SystemCommand(
                _("App: Lock the screen"), _("Your password opens it again"), self.lock_screen
            )
        for code in i18n.LANGUAGES:
            if code != i18n.language() and not self.in_dialog:
                yield SystemCommand(
                    _("Language: {name}").format(name=LANGUAGE_NAMES[code]),
                    _("Show clinic-tui in {name} (remembered for next time)").format(
                        name=LANGUAGE_NAMES[code]
                    ),
                    lambda code=code: self.switch_language(code),
                )
        for command in super().get_system_commands(screen):
            if command.title in TEXTUAL_COMMANDS:  # (Textual's "Keys" panel: our help replaces it)
                title, text = TEXTUAL_COMMANDS[command.title]
                yield SystemCommand(_(title), _(text), command.callback, command.discover)

    # ------------------------------------------------------------------ idle lock

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            self._last_input = time.monotonic()
        await super().on_event(event)

    def lock_seconds(self) -> float:
        settings = getattr(self, "settings", None)
        minutes = getattr(settings, "lock_minutes", None) if settings is not None else None
        return (DEFAULT_LOCK_MINUTES if minutes is None else minutes) * 60

    def check_idle_lock(self) -> None:
        seconds = self.lock_seconds()
        if seconds <= 0 or self.is_locked:
            return
        if time.monotonic() - self._last_input >= seconds:
            self.lock_screen()

    def action_lock(self) -> None:
        self.lock_screen()

    def lock_screen(self) -> None:
        """Cover the session with the lock screen: nothing personal shows until the password is given."""
        from clinic_tui.views.lock import LockScreen

        session = getattr(self, "session", None)
        if session is None or not session.logged_in or self.is_locked:
            return
        self.clear_notifications()  # a toast may name a patient
        self.push_screen(LockScreen(session.user.username))

    def unlocked(self, screen: Screen) -> None:
        self._last_input = time.monotonic()
        if self.screen is screen:
            self.pop_screen()
