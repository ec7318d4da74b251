"""The supervisor's dialogs: a verdict with its required note, and one audit record in full."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, RadioButton, RadioSet, Static, TextArea

from clinic_tui import findings_text, labels
from clinic_tui.domain.findings import Verdict
from clinic_tui.i18n import N_, _
from clinic_tui.views.format import local_time
from clinic_tui.widgets.typed import after_typing

#: the choices, in the order shown; the keys 1-3 pick them
VERDICTS = (Verdict.JUSTIFIED, Verdict.NOT_JUSTIFIED, Verdict.NEEDS_FOLLOW_UP)


class VerdictPrompt(ModalScreen[tuple[Verdict, str] | None]):
    """A verdict (one of three) and a note saying what was found out; both required.

    What was chosen and typed can be passed back in (``verdict``, ``note``) when the caller re-opens
    the dialog after a failed request, so a stopped server or a conflict never loses the note.
    """

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="verdict.cancel", tooltip=N_("Close without a verdict")),
        Binding(
            "ctrl+s",
            "commit",
            N_("Save"),
            id="verdict.commit",
            tooltip=N_("Record the verdict"),
            priority=True,
        ),
    ]

    def __init__(self, title: str, context: str | Text, *, verdict: Verdict | None = None, note: str = ""):
        super().__init__()
        self.title_text = title
        self.context = context
        self.initial = (verdict, note)

    def compose(self) -> ComposeResult:
        chosen, note = self.initial
        with Vertical(classes="modal-box", id="verdict-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            yield Static(
                Text(self.context) if isinstance(self.context, str) else self.context, classes="muted"
            )
            with RadioSet(id="verdict-choice"):
                for v in VERDICTS:
                    yield RadioButton(findings_text.verdict(v).capitalize(), value=v == chosen, id=f"v-{v}")
            yield Static(_("Note (required): what you found out, and why this verdict."))
            yield TextArea(note, id="verdict-note", soft_wrap=True)
            yield Static("", id="verdict-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Ctrl+S)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    @property
    def chosen(self) -> Verdict | None:
        pressed = self.query_one(RadioSet).pressed_button
        return Verdict(pressed.id.removeprefix("v-")) if pressed is not None and pressed.id else None

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        after_typing(self, self.commit)  # after the note's keys that came before Ctrl+S

    def commit(self) -> None:
        error = self.query_one("#verdict-error", Static)
        verdict = self.chosen
        note = self.query_one(TextArea).text.strip()
        if verdict is None:
            error.update(_("Choose a verdict: justified, not justified or needs follow-up."))
            self.query_one(RadioSet).focus()
            return
        if not note:
            error.update(_("Write a note: a verdict without one is not recorded."))
            self.query_one(TextArea).focus()
            return
        if len(note) > 2000:
            error.update(_("At most {n} characters, please.").format(n=2000))
            return
        self.dismiss((verdict, note))


class AuditRecordScreen(ModalScreen[None]):
    """One audit record in full (every field, its place in the hash chain), loaded by the caller's
    worker and passed in as ``record`` (an ``AuditRecordOut``)."""

    BINDINGS = [Binding("escape", "close", N_("Close"), id="record.close", tooltip=N_("Back"))]

    def __init__(self, record):
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        rows = [
            (_("Record"), str(r.seq)),
            (_("When"), local_time(r.ts)),
            (_("Who"), f"{r.username or '—'} ({labels.role(r.role)})" if r.role else (r.username or "—")),
            (_("Organization"), r.organization_id or "—"),
            (_("Action"), r.action_name or r.action),
            (_("Resource"), f"{r.resource_type} {r.resource_id or ''}".strip()),
            (_("Person"), r.person_id or "—"),
            (_("Categories"), ", ".join(labels.category(c) for c in r.categories) or "—"),
            (_("Purpose"), r.purpose or "—"),
            (_("Outcome"), labels.outcome(r.outcome)),
            (_("Why"), r.reason or "—"),
            (_("Request"), r.request_id or "—"),
            (_("Client"), f"{r.client_name or ''} {r.client_version or ''}".strip() or "—"),
            (_("Details"), ", ".join(f"{k}={v}" for k, v in sorted((r.details or {}).items())) or "—"),
            (_("Previous hash"), r.prev_hash),
            (_("Hash"), r.hash),
        ]
        text = Text()
        for label, value in rows:
            text.append(f"{label}: ", style="bold")
            text.append(str(value) + "\n")
        with Vertical(classes="modal-box", id="record-box"):
            yield Static(_("Audit record {seq}").format(seq=r.seq), classes="modal-title")
            with VerticalScroll():
                yield Static(text, id="record-text")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Close (Esc)"), id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
