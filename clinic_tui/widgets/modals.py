"""Modal dialogs: a required note or reason, and a snooze time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from clinic_tui.i18n import N_, _
from clinic_tui.widgets.typed import after_typing


class TextPrompt(ModalScreen[str | None]):
    """Ask for a piece of text; Enter (Ctrl+S in the multi-line box) commits, Esc cancels.

    What was typed is kept if the caller re-opens the prompt after a failed request
    (pass it back as ``initial``), so a slow or stopped server never loses it.
    """

    BINDINGS = [
        Binding(
            "escape", "cancel", N_("Cancel"), id="prompt.cancel", tooltip=N_("Close without doing anything")
        ),
        Binding("ctrl+s", "commit", N_("Save"), id="prompt.commit", tooltip=N_("Commit"), priority=True),
    ]

    def __init__(
        self,
        title: str,
        prompt: str | Text,
        *,
        min_length: int = 1,
        max_length: int = 2000,
        initial: str = "",
        keep: Callable[[str], object] | None = None,
    ):
        """``title`` and ``prompt`` are shown as written (plain text: never read as markup).
        ``keep`` is given what was typed when the dialog is cancelled (Esc never throws it away)."""
        super().__init__()
        self.keep = keep
        self.title_text = title
        self.prompt = prompt
        self.min_length = min_length
        self.max_length = max_length
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            yield Static(Text(self.prompt) if isinstance(self.prompt, str) else self.prompt, classes="muted")
            yield TextArea(self.initial, id="prompt-text", soft_wrap=True)
            yield Static("", id="prompt-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Ctrl+S)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_cancel(self) -> None:
        if self.keep is not None:
            self.keep(self.query_one(TextArea).text)
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.action_commit()

    def action_commit(self) -> None:
        after_typing(self, self.commit)  # (a method call: a subclass's own commit runs)

    def commit(self) -> None:
        text = self.query_one(TextArea).text.strip()
        error = self.query_one("#prompt-error", Static)
        if len(text) < self.min_length:
            error.update(
                _("This cannot be empty.")
                if self.min_length <= 1
                else _("Write at least {n} characters.").format(n=self.min_length)
            )
            return
        if len(text) > self.max_length:
            error.update(_("At most {n} characters, please.").format(n=self.max_length))
            return
        self.dismiss(text)


class EscalatePrompt(TextPrompt):
    """Escalate: who takes the alert over (a name, as a clinic says it: "Dr. Lind, cardiology"),
    and the note. Dismissed with ``(recipient, note)``; an empty recipient is refused here.

    ``keep`` is given ``(recipient, note)`` when the dialog is cancelled.
    """

    def __init__(
        self,
        title: str,
        prompt: str | Text,
        *,
        initial: str = "",
        recipient: str = "",
        keep: Callable[[str, str], object] | None = None,
    ):
        super().__init__(title, prompt, initial=initial)
        self.initial_recipient = recipient
        self.keep_both = keep

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            yield Static(Text(self.prompt) if isinstance(self.prompt, str) else self.prompt, classes="muted")
            yield Static(_("To whom (name, and unit or role):"))
            yield Input(
                self.initial_recipient,
                placeholder=_("e.g. Dr. Lind, cardiology"),
                max_length=200,
                id="prompt-recipient",
            )
            yield Static(_("Note:"))
            yield TextArea(self.initial, id="prompt-text", soft_wrap=True)
            yield Static("", id="prompt-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Ctrl+S)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self, event: events.Mount) -> None:
        event.prevent_default()  # (TextPrompt's own would focus the note)
        if self.initial_recipient.strip():
            self.query_one(TextArea).focus()
        else:
            self.query_one("#prompt-recipient", Input).focus()

    @property
    def recipient(self) -> str:
        return self.query_one("#prompt-recipient", Input).value.strip()

    @on(Input.Submitted, "#prompt-recipient")
    def _to_note(self) -> None:
        self.query_one(TextArea).focus()

    def action_cancel(self) -> None:
        if self.keep_both is not None:
            self.keep_both(self.recipient, self.query_one(TextArea).text)
        self.dismiss(None)

    def commit(self) -> None:
        if not self.recipient:
            self.query_one("#prompt-error", Static).update(
                _("Name who takes it over (e.g. Dr. Lind, cardiology).")
            )
            self.query_one("#prompt-recipient", Input).focus()
            return
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.query_one("#prompt-error", Static).update(_("This cannot be empty."))
            return
        self.dismiss((self.recipient, text[: self.max_length]))


SNOOZE_CHOICES = [
    ("1h", N_("1 hour"), timedelta(hours=1)),
    ("4h", N_("4 hours"), timedelta(hours=4)),
    ("24h", N_("24 hours"), timedelta(hours=24)),
]


class SnoozePrompt(ModalScreen[datetime | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="snooze.cancel", tooltip=N_("Do not snooze"))]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(_("Snooze alert until…"), classes="modal-title")
            yield OptionList(
                *[Option(_(label), id=key) for key, label, _delta in SNOOZE_CHOICES],
                Option(_("tomorrow 08:00"), id="tomorrow"),
                id="snooze-options",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        now = datetime.now().astimezone()
        if event.option.id == "tomorrow":
            until = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        else:
            until = now + next(d for key, _label, d in SNOOZE_CHOICES if key == event.option.id)
        self.dismiss(until)


class ConfirmPrompt(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape", "no", N_("No"), id="confirm.no", tooltip=N_("Cancel")),
        Binding("y", "yes", N_("Yes"), id="confirm.yes", tooltip=N_("Confirm")),
    ]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.question))
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Yes (y)"), id="yes", variant="warning")
                yield Button(_("No (Esc)"), id="no")

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


class BreakGlassPrompt(ModalScreen[tuple[str, str] | None]):
    """Emergency access: the person's personnummer and a typed reason (at least 10 characters)."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="glass.cancel", tooltip=N_("Do not open the record")),
        Binding(
            "ctrl+s",
            "commit",
            N_("Open record"),
            id="glass.commit",
            tooltip=N_("Open the record"),
            priority=True,
        ),
        # checked as the key arrives (as on the login screen): a scanner or a paste sends the
        # personnummer, Enter and the reason in one burst, and a focus move made when the field
        # handles Enter would come after the reason had gone into the personnummer field (issue
        # 13.8); Tab does the same through the app's own priority binding (ClinicApp.BINDINGS)
        Binding("enter", "to_reason", show=False, priority=True),
    ]

    def __init__(
        self,
        personnummer: str = "",
        reason: str = "",
        error: str = "",
        keep: Callable[[str, str], object] | None = None,
    ):
        """``keep`` is given the personnummer and reason typed when the dialog is cancelled."""
        super().__init__()
        self.initial = (personnummer, reason, error)
        self.keep = keep

    def compose(self) -> ComposeResult:
        pnr, reason, error = self.initial
        with Vertical(classes="modal-box"):
            yield Static(_("Emergency access (break the glass)"), classes="modal-title")
            yield Static(
                _(
                    "Opens a record without the patient's consent, for vital interests only. The access is "
                    "time-limited, logged as an emergency, reviewed by your supervisor, and the patient is "
                    "told."
                ),
                classes="muted",
            )
            yield Input(pnr, placeholder=_("Personnummer (YYYYMMDD-XXXX)"), id="glass-pnr", max_length=13)
            yield Static(_("Reason (required, at least 10 characters):"))
            yield TextArea(reason, id="glass-reason", soft_wrap=True)
            yield Static(Text(error), id="glass-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Open record (Ctrl+S)"), id="ok", variant="error")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#glass-pnr", Input).focus()

    def action_to_reason(self) -> None:
        if self.focused is not self.query_one("#glass-pnr", Input):
            raise SkipAction()  # elsewhere Enter does what it always does
        self.set_focus(self.query_one("#glass-reason", TextArea))  # now, not after the queued keys

    def action_cancel(self) -> None:
        if self.keep is not None:
            pnr = self.query_one("#glass-pnr", Input).value
            self.keep(pnr, self.query_one("#glass-reason", TextArea).text)
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Input.Submitted, "#glass-pnr")
    def _next(self) -> None:
        self.query_one("#glass-reason", TextArea).focus()

    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        after_typing(self, self.commit)

    def commit(self) -> None:
        from clinic_tui.domain.personnummer import PersonnummerError, normalize

        error = self.query_one("#glass-error", Static)
        try:
            pnr = normalize(self.query_one("#glass-pnr", Input).value.strip())
        except PersonnummerError as exc:
            # the domain's reasons are extracted for translation (keyword PersonnummerError, babel.cfg)
            error.update(Text(_("Personnummer: {problem}").format(problem=_(str(exc)))))
            return
        reason = self.query_one("#glass-reason", TextArea).text.strip()
        if len(reason) < 10:
            error.update(_("Write the reason: at least 10 characters."))
            return
        self.dismiss((pnr, reason))
