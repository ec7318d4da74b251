"""Dialogs of the privacy officer's screen: where to save a file, a choice from a list, the erasure
preview, a rectification, a legal hold.

Each keeps what was typed when the caller opens it again after a failed request (``initial``), so a
slow or stopped server never loses it. Everything from the server is shown as ``Text``, never markup.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, OptionList, RadioButton, RadioSet, Select, Static
from textual.widgets.option_list import Option

from clinic_tui import rights_labels as words
from clinic_tui.api.schemas.rights import ErasurePreview, RectifiableField, RetentionPreview
from clinic_tui.files import check_target
from clinic_tui.i18n import N_, _

_CANCEL = Binding(
    "escape", "cancel", N_("Cancel"), id="rights.cancel", tooltip=N_("Close without doing anything")
)
RECTIFIABLE: tuple[str, ...] = RectifiableField.__args__  # type: ignore[attr-defined]


class _Prompt(ModalScreen):
    BINDINGS = [_CANCEL]

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _error(self, text: str) -> None:
        self.query_one(".modal-error", Static).update(Text(text))


class SavePrompt(_Prompt):
    """Where to write a file (and, for a document, in which language): ``(path, language)``.

    A file that exists is replaced only after a second Enter on the same path.
    """

    def __init__(self, title: str, path: Path, *, languages: tuple[str, ...] = (), language: str = "sv"):
        super().__init__()
        self.title_text = title
        self.path = path
        self.languages = languages
        self.language = language
        self._replace_ok: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            yield Static(_("Save to file (the file holds the person's data: keep it safe):"), classes="muted")
            yield Input(str(self.path), id="save-path")
            if self.languages:
                with RadioSet(id="save-language"):
                    for code in self.languages:
                        yield RadioButton(
                            _("Swedish") if code == "sv" else _("English"),
                            value=code == self.language,
                            name=code,
                        )
            yield Static("", id="save-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Enter)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    @on(RadioSet.Changed, "#save-language")
    def _language(self, event: RadioSet.Changed) -> None:
        """The default name carries the language: it follows the choice."""
        field = self.query_one("#save-path", Input)
        for code in self.languages:
            if field.value.endswith(f"-{code}.md"):
                field.value = field.value[: -len(f"-{code}.md")] + f"-{event.pressed.name}.md"
                break

    @on(Input.Submitted, "#save-path")
    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        path, problem = check_target(self.query_one("#save-path", Input).value)
        if problem == "empty":
            self._error(_("Type where to save the file."))
            return
        if problem == "directory":
            self._error(_("That is a directory: add a file name."))
            return
        assert path is not None
        if path.exists() and self._replace_ok != path:
            self._replace_ok = path
            self._error(
                _("{path} exists. Press Enter again to replace it, or change the name.").format(path=path)
            )
            return
        language = None
        if self.languages:
            pressed = self.query_one(RadioSet).pressed_button
            language = pressed.name if pressed is not None else self.language
        self.dismiss((path, language))


class ChoicePrompt(_Prompt):
    """Pick one of ``options`` (``(key, label)``): the key, or None."""

    def __init__(self, title: str, options: list[tuple[str, str]], note: str = ""):
        super().__init__()
        self.title_text = title
        self.options = options
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text), classes="modal-title")
            if self.note:
                yield Static(Text(self.note), classes="muted")
            yield OptionList(*[Option(Text(label), id=key) for key, label in self.options], id="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def _table_lines(rows: dict[str, int]) -> str:
    return "\n".join(f"  {words.source(t)}: {n}" for t, n in sorted(rows.items()) if n) or "  " + _("nothing")


def preview_text(preview: ErasurePreview) -> Text:
    """Per table what the erasure deletes, anonymizes, retains (until when) and keeps."""
    out = Text()
    out.append(_("Deleted (rows per table):") + "\n", style="bold")
    out.append(_table_lines(preview.deleted) + "\n")
    if preview.anonymized:
        out.append(_("Anonymized (kept without any link to the person):") + "\n", style="bold")
        out.append(_table_lines(preview.anonymized) + "\n")
    if preview.retained:
        out.append(_("Retained because a law requires it (unlinked from the person):") + "\n", style="bold")
        for r in preview.retained:
            until = r.until.isoformat() if r.until else _("no date")
            out.append(
                "  "
                + _("{source}: {n}, until {until}").format(
                    source=words.source(r.source), n=r.rows, until=until
                )
                + "\n"
            )
    if preview.kept:
        out.append(_("Kept (they name the person by opaque id only):") + "\n", style="bold")
        out.append("  " + ", ".join(words.source(t) for t in preview.kept) + "\n")
    return out


class ErasurePrompt(_Prompt):
    """The erasure preview. True: the officer goes on to confirm; a legal hold offers no erase."""

    BINDINGS = [
        _CANCEL,
        Binding(
            "ctrl+e",
            "erase",
            N_("Erase…"),
            id="erasure.erase",
            tooltip=N_("Go on to confirm the erasure"),
            priority=True,
        ),
    ]

    def __init__(self, preview: ErasurePreview, intro: str = "", *, hold_blocks: bool = True):
        """``intro``: why this erasure comes (a withdrawal or closure that ends the account); there
        a legal hold does not block (``hold_blocks=False``): the account ends, the data waits."""
        super().__init__()
        self.preview = preview
        self.intro = intro
        self.blocked = preview.legal_hold and hold_blocks

    def compose(self) -> ComposeResult:
        mode = _("anonymize") if self.preview.mode == "anonymize" else _("delete")
        with Vertical(classes="modal-box"):
            yield Static(_("Erasure preview ({mode})").format(mode=mode), classes="modal-title")
            if self.intro:
                yield Static(Text(self.intro), id="erasure-intro", classes="modal-error")
            yield Static(preview_text(self.preview), id="erasure-preview")
            if self.blocked:
                yield Static(
                    _(
                        "A legal hold keeps this person's data: nothing can be erased until it is released "
                        "or lapses."
                    ),
                    id="erasure-hold",
                    classes="modal-error",
                )
            elif self.preview.legal_hold:
                yield Static(
                    _(
                        "A legal hold keeps the data for now: it is deleted when the hold is released "
                        "or lapses."
                    ),
                    id="erasure-hold",
                    classes="modal-error",
                )
            with Horizontal(classes="modal-buttons"):
                if not self.blocked:
                    yield Button(_("Erase… (Ctrl+E)"), id="ok", variant="error")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "erase":
            return not self.blocked
        return True

    @on(Button.Pressed, "#ok")
    def action_erase(self) -> None:
        if not self.blocked:
            self.dismiss(True)


class RectifyPrompt(_Prompt):
    """A correction: which field, its new value (empty clears a contact field), and why."""

    def __init__(self, field: str = "phone", value: str = "", reason: str = "", error: str = ""):
        super().__init__()
        self.initial = (field, value, reason, error)

    def compose(self) -> ComposeResult:
        field, value, reason, error = self.initial
        with Vertical(classes="modal-box"):
            yield Static(_("Correct a detail (rectification)"), classes="modal-title")
            yield Static(_("The old value is kept in the history, never shown as current."), classes="muted")
            yield Select(
                [(words.field(code), code) for code in RECTIFIABLE],
                value=field if field in RECTIFIABLE else RECTIFIABLE[0],
                allow_blank=False,
                id="rectify-field",
            )
            yield Input(value, placeholder=_("New value (empty clears a contact detail)"), id="rectify-value")
            yield Input(reason, placeholder=_("Reason (at least 3 characters)"), id="rectify-reason")
            yield Static(Text(error), classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Enter)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#rectify-value", Input).focus()

    @on(Input.Submitted, "#rectify-value")
    def _next(self) -> None:
        self.query_one("#rectify-reason", Input).focus()

    @on(Input.Submitted, "#rectify-reason")
    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        field = self.query_one("#rectify-field", Select).value
        if field not in RECTIFIABLE:
            self._error(_("Choose the detail to correct."))
            return
        value = self.query_one("#rectify-value", Input).value.strip()
        reason = self.query_one("#rectify-reason", Input).value.strip()
        if len(reason) < 3:
            self._error(_("Write the reason: at least 3 characters."))
            return
        self.dismiss((field, value, reason))


class LegalHoldPrompt(_Prompt):
    """A legal hold: the reason and, optionally, the last day it holds (YYYY-MM-DD)."""

    def __init__(self, reason: str = "", until: str = "", error: str = ""):
        super().__init__()
        self.initial = (reason, until, error)

    def compose(self) -> ComposeResult:
        reason, until, error = self.initial
        with Vertical(classes="modal-box"):
            yield Static(_("Set a legal hold"), classes="modal-title")
            yield Static(
                _("While it holds, neither erasure nor the retention job removes the person's data."),
                classes="muted",
            )
            yield Input(reason, placeholder=_("Reason (the claim; at least 3 characters)"), id="hold-reason")
            yield Input(until, placeholder=_("Held until (YYYY-MM-DD, optional)"), id="hold-until")
            yield Static(Text(error), classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Enter)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#hold-reason", Input).focus()

    @on(Input.Submitted, "#hold-reason")
    def _next(self) -> None:
        self.query_one("#hold-until", Input).focus()

    @on(Input.Submitted, "#hold-until")
    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        reason = self.query_one("#hold-reason", Input).value.strip()
        until_text = self.query_one("#hold-until", Input).value.strip()
        if len(reason) < 3:
            self._error(_("Write the reason: at least 3 characters."))
            return
        until = None
        if until_text:
            try:
                until = date.fromisoformat(until_text)
            except ValueError:
                self._error(_("Write the date as YYYY-MM-DD, or leave it empty."))
                return
            if until < date.today():
                self._error(_("That day has passed: a hold must last at least until today."))
                return
        self.dismiss((reason, until))


class RetentionView(_Prompt):
    """What a retention run would remove as of a day: who (by id), by which rule, from which day."""

    def __init__(self, preview: RetentionPreview):
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(classes="modal-box", id="retention-box"):
            yield Static(_("Retention as of {day}").format(day=p.as_of.isoformat()), classes="modal-title")
            by_rule = "; ".join(f"{words.rule(rule)}: {n}" for rule, n in sorted(p.by_rule.items()))
            summary = _(
                "{n} people due ({by_rule}); {billing} billing records past their bookkeeping date; "
                "{held} kept by a legal hold."
            ).format(n=len(p.items), by_rule=by_rule or "—", billing=p.billing_records_due, held=p.held)
            yield Static(Text(summary), id="retention-summary", classes="muted")
            yield DataTable(id="retention-items", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Close (Esc)"), id="cancel")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in (
            (_("Person"), 32),
            (_("Held by"), 14),
            (_("Rule"), 34),
            (_("From"), 10),
            (_("How"), 9),
        ):
            table.add_column(label, width=width)
        for item in self.preview.items:
            table.add_row(
                Text(item.person_id),
                Text(words.controller(item.controller)),
                Text(words.rule(item.rule_id)),
                Text(item.due_on.isoformat()),
                Text(_("anonymize") if item.mode == "anonymize" else _("delete")),
            )
        table.focus()


__all__ = ["RetentionView", "ChoicePrompt", "ErasurePrompt", "LegalHoldPrompt", "RectifyPrompt", "SavePrompt"]
