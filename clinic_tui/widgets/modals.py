"""Modal dialogs: a required note or reason, and a snooze time."""

from __future__ import annotations

from datetime import datetime, timedelta

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option


class TextPrompt(ModalScreen[str | None]):
    """Ask for a piece of text; Enter (Ctrl+S in the multi-line box) commits, Esc cancels.

    What was typed is kept if the caller re-opens the prompt after a failed request
    (pass it back as ``initial``), so a slow or stopped server never loses it.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Close without doing anything"),
        Binding("ctrl+s", "commit", "Save", id="prompt.commit", tooltip="Commit", priority=True),
    ]

    def __init__(
        self, title: str, prompt: str, *, min_length: int = 1, max_length: int = 2000, initial: str = ""
    ):
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.min_length = min_length
        self.max_length = max_length
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(self.title_text, classes="modal-title")
            yield Static(self.prompt, classes="muted")
            yield TextArea(self.initial, id="prompt-text", soft_wrap=True)
            yield Static("", id="prompt-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save (Ctrl+S)", id="ok", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        text = self.query_one(TextArea).text.strip()
        error = self.query_one("#prompt-error", Static)
        if len(text) < self.min_length:
            error.update(
                "This cannot be empty."
                if self.min_length <= 1
                else f"Write at least {self.min_length} characters."
            )
            return
        if len(text) > self.max_length:
            error.update(f"At most {self.max_length} characters, please.")
            return
        self.dismiss(text)


SNOOZE_CHOICES = [
    ("1h", "1 hour", timedelta(hours=1)),
    ("4h", "4 hours", timedelta(hours=4)),
    ("24h", "24 hours", timedelta(hours=24)),
]


class SnoozePrompt(ModalScreen[datetime | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="snooze.cancel", tooltip="Do not snooze")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static("Snooze alert until…", classes="modal-title")
            yield OptionList(
                *[Option(label, id=key) for key, label, _ in SNOOZE_CHOICES],
                Option("tomorrow 08:00", id="tomorrow"),
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
            until = now + next(d for key, _, d in SNOOZE_CHOICES if key == event.option.id)
        self.dismiss(until)


class ConfirmPrompt(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape", "no", "No", id="confirm.no", tooltip="Cancel"),
        Binding("y", "yes", "Yes", id="confirm.yes", tooltip="Confirm"),
    ]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(self.question)
            with Horizontal(classes="modal-buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (Esc)", id="no")

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


class BreakGlassPrompt(ModalScreen[tuple[str, str] | None]):
    """Emergency access: the person's personnummer and a typed reason (at least 10 characters)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="glass.cancel", tooltip="Do not open the record"),
        Binding(
            "ctrl+s", "commit", "Open record", id="glass.commit", tooltip="Open the record", priority=True
        ),
    ]

    def __init__(self, personnummer: str = "", reason: str = "", error: str = ""):
        super().__init__()
        self.initial = (personnummer, reason, error)

    def compose(self) -> ComposeResult:
        pnr, reason, error = self.initial
        with Vertical(classes="modal-box"):
            yield Static("Emergency access (break the glass)", classes="modal-title")
            yield Static(
                "Opens a record without the patient's consent, for vital interests only. The access is "
                "time-limited, logged as an emergency, reviewed by your supervisor, and the patient is "
                "told.",
                classes="muted",
            )
            yield Input(pnr, placeholder="Personnummer (YYYYMMDD-XXXX)", id="glass-pnr", max_length=13)
            yield Static("Reason (required, at least 10 characters):")
            yield TextArea(reason, id="glass-reason", soft_wrap=True)
            yield Static(error, id="glass-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Open record (Ctrl+S)", id="ok", variant="error")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#glass-pnr", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#glass-pnr")
    def _next(self) -> None:
        self.query_one("#glass-reason", TextArea).focus()

    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        from clinic_tui.domain.personnummer import PersonnummerError, normalize

        error = self.query_one("#glass-error", Static)
        try:
            pnr = normalize(self.query_one("#glass-pnr", Input).value.strip())
        except PersonnummerError as exc:
            error.update(f"Personnummer: {exc}")
            return
        reason = self.query_one("#glass-reason", TextArea).text.strip()
        if len(reason) < 10:
            error.update("Write the reason: at least 10 characters.")
            return
        self.dismiss((pnr, reason))
