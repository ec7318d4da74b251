"""The meeting form: a whole meeting typed in one screen and saved in one request.

Date and kind; measurements (height, weight, waist, blood pressure, heart rate); the health-profile
questionnaire; a submaximal cycle test with a **live VO2max estimate** computed as the coach types
(``clinic_tui.domain.fitness.preview_*``, with the sex and age the history carries), naming the
equation and its version; and her notes. A part whose category the participant's consent does not
cover is disabled and left out of the save, and says so.

Saving: the meeting is first kept on this computer (``meeting_drafts``, encrypted), then sent with
the draft's ``Idempotency-Key``, made once per draft. The server's answer replaces the form's
status line with the automated assessment (each conclusion explained, with its rule and version).
If the server is stopped or slow the draft stays, with the same key, and she is told so: saving
again, or ``u`` on the participant list, sends it again and the server stores it once.
Refused values are shown beside their fields (``InvalidValues.for_field``); a refusal for missing
consent disables the parts it names.
"""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Header, Input, Label, Select, Static, TextArea

from clinic_tui import coach_words, labels
from clinic_tui.api.coach import CoachApi, ConsentMissing, InvalidValues, KeyReused, new_idempotency_key
from clinic_tui.api.schemas.coach import (
    AstrandRyhmingIn,
    Change,
    CorrectionIn,
    EkblomBakIn,
    MeasurementsIn,
    MeetingIn,
    MeetingOut,
    ParticipantHistory,
    QuestionnaireIn,
)
from clinic_tui.domain import fitness
from clinic_tui.domain.meeting import MEASUREMENTS, PROTOCOL_FIELDS, MeetingKind
from clinic_tui.domain.questionnaire import CURRENT as QUESTIONNAIRE
from clinic_tui.i18n import N_, _
from clinic_tui.meeting_drafts import MeetingDraft
from clinic_tui.views.base import AppScreen
from clinic_tui.views.participant import assessment_text
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.typed import after_typing

EB = fitness.EKBLOM_BAK_2016.id
AR = fitness.ASTRAND_RYHMING.id
#: every cycle-test input, by the id of its field in the form
TEST_FIELDS = ("watts_low", "hr_low", "watts_high", "hr_high", "watts", "hr", "weight_kg")
PROTOCOL_NAME = {
    EB: N_("Ekblom-Bak (revised 2016), two 4-minute stages"),
    AR: N_("Åstrand-Ryhming, one 6-minute stage"),
}
UNIT = {"watts_low": "W", "watts_high": "W", "watts": "W", "hr_low": "/min", "hr_high": "/min", "hr": "/min"}
#: a part's category (the consent that must cover it)
PART_CATEGORY = {
    "measurements": "vitals",
    "questionnaire": "questionnaires",
    "fitness_test": "fitness_tests",
    "notes": "profiling",
}


class FormError(Exception):
    """Values the form itself cannot send (not a number, missing): shown beside their fields."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("form")
        #: (field path, text)
        self.problems = problems


def parse_number(text: str) -> float | None:
    """A number as typed (a decimal comma is fine); "" is None; anything else raises ValueError."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _dom_id(path: str) -> str:
    """The id of a field path's error line (ids cannot hold dots)."""
    if path.startswith("questionnaire."):
        qid = path.split(".", 1)[1]
        ids = [q.id for q in QUESTIONNAIRE.questions]
        return f"err-q-{ids.index(qid)}" if qid in ids else "form-error"
    return "err-" + path.replace(".", "-")


def _typed(value: object) -> str:
    """A kept value back in its field: a number as typed, text (a form left unsaved) as it was."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def set_error(widget: Static, text: Text | str) -> None:
    """Show ``text`` on an error line (an empty one takes no room)."""
    widget.update(text)
    widget.set_class(not str(text), "-empty")


class MeetingScreen(AppScreen):
    BINDINGS = [
        Binding(
            "ctrl+s", "save", N_("Save"), id="meeting.save", tooltip=N_("Save the meeting"), priority=True
        ),
        Binding(
            "escape",
            "back",
            N_("Back"),
            id="meeting.back",
            tooltip=N_("Back to the participant (what is typed and unsaved is kept on this computer)"),
        ),
        Binding(
            "ctrl+d",
            "discard",
            N_("Discard"),
            id="meeting.discard",
            tooltip=N_("Throw this unsaved meeting away (asks first)"),
        ),
    ]

    def __init__(self, history: ParticipantHistory, draft: MeetingDraft | None = None):
        super().__init__()
        self.history = history
        self.person_id = history.person_id
        self.missing = set(history.missing)
        #: the key of this draft: made once, kept with the draft until the server has the meeting
        self.key = draft.key if draft is not None else new_idempotency_key()
        self.draft = draft
        self.saved: MeetingOut | None = None
        self.sending = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="meeting-status")
        with VerticalScroll(id="meeting-form"):
            with Horizontal(classes="form-row"):
                yield Label(_("Date"), classes="form-label")
                yield Input(date.today().isoformat(), id="held_on", classes="form-input")
                yield Select(
                    [(coach_words.kind(k), k.value) for k in MeetingKind],
                    value=MeetingKind.FOLLOW_UP.value if self.history.meetings else MeetingKind.FIRST.value,
                    allow_blank=False,
                    id="kind",
                )
            yield Static("", id="err-held_on", classes="field-error -empty")
            yield Static(_("Measurements"), classes="section-title")
            yield Static("", id="consent-measurements", classes="consent-note -empty")
            with Vertical(id="part-measurements"):
                for key, m in MEASUREMENTS.items():
                    with Horizontal(classes="form-row"):
                        yield Label(Text(f"{coach_words.field_label(key)} ({m.unit})"), classes="form-label")
                        yield Input(id=f"m-{key}", classes="form-input")
                        yield Static("", id=f"err-measurements-{key}", classes="field-error -empty")
            yield Static(_("Cycle test"), classes="section-title")
            yield Static("", id="consent-fitness_test", classes="consent-note -empty")
            with Vertical(id="part-fitness_test"):
                yield Select(
                    [(_(PROTOCOL_NAME[EB]), EB), (_(PROTOCOL_NAME[AR]), AR)],
                    prompt=_("No cycle test"),
                    id="protocol",
                )
                for name in TEST_FIELDS:
                    unit = UNIT.get(name, "kg")
                    label = (
                        _("weight for the test (empty: the measured one)")
                        if name == "weight_kg"
                        else coach_words.field_label(name)
                    )
                    with Horizontal(classes="form-row", id=f"row-{name}"):
                        yield Label(Text(f"{label} ({unit})"), classes="form-label")
                        yield Input(id=f"f-{name}", classes="form-input")
                        yield Static("", id=f"err-fitness_test-{name}", classes="field-error -empty")
                yield Static("", id="estimate")
            yield Static(
                _("Questionnaire: {name} v{version}").format(
                    name=_(QUESTIONNAIRE.label), version=QUESTIONNAIRE.version
                ),
                classes="section-title",
            )
            yield Static("", id="consent-questionnaire", classes="consent-note -empty")
            with Vertical(id="part-questionnaire"):
                for i, q in enumerate(QUESTIONNAIRE.questions):
                    yield Label(Text(_(q.label)), classes="question")
                    yield Select(
                        [(_(a.label), a.code) for a in q.answers], prompt=_("(not answered)"), id=f"q-{i}"
                    )
                    yield Static("", id=f"err-q-{i}", classes="field-error -empty")
            yield Static(_("Notes"), classes="section-title")
            yield Static("", id="consent-notes", classes="consent-note -empty")
            with Vertical(id="part-notes"):
                yield TextArea(id="notes", soft_wrap=True)
                yield Static("", id="err-notes", classes="field-error -empty")
            yield Static("", id="form-error", classes="field-error -empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = _("Meeting — {name}").format(name=self.history.label)
        if self.draft is not None:
            self.fill(self.draft.meeting)
            self.status(
                Text(
                    _(
                        "This meeting is kept on this computer and not yet stored by the server. "
                        "Ctrl+S sends it (with its own key: it is stored once)."
                    ),
                    style="bold yellow",
                )
            )
        self.apply_consent()
        self.show_protocol()
        self.update_estimate()
        self.query_one("#held_on", Input).focus()

    def fill(self, body: dict) -> None:
        self.query_one("#held_on", Input).value = str(body.get("held_on", ""))
        if body.get("kind"):
            self.query_one("#kind", Select).value = body["kind"]
        for key, value in (body.get("measurements") or {}).items():
            if value is not None and key in MEASUREMENTS:
                self.query_one(f"#m-{key}", Input).value = _typed(value)
        test = body.get("fitness_test") or {}
        if test.get("protocol"):
            self.query_one("#protocol", Select).value = test["protocol"]
        for name in TEST_FIELDS:
            if test.get(name) is not None:
                self.query_one(f"#f-{name}", Input).value = _typed(test[name])
        answers = (body.get("questionnaire") or {}).get("answers") or {}
        for i, q in enumerate(QUESTIONNAIRE.questions):
            if q.id in answers:
                self.query_one(f"#q-{i}", Select).value = answers[q.id]
        if body.get("notes"):
            self.query_one("#notes", TextArea).text = body["notes"]

    def apply_consent(self) -> None:
        """Disable the parts whose category the consent does not cover, and say which."""
        for part, category in PART_CATEGORY.items():
            blocked = category in self.missing
            self.query_one(f"#part-{part}").disabled = blocked
            set_error(
                self.query_one(f"#consent-{part}", Static),
                Text(
                    _(
                        "Not covered by the participant's consent ({category}): left out of the meeting."
                    ).format(category=labels.category(category)),
                    style="yellow",
                )
                if blocked
                else "",
            )

    def status(self, text: Text | str) -> None:
        self.query_one("#meeting-status", Static).update(text)

    # ------------------------------------------------------------------ the live estimate

    def protocol(self) -> str | None:
        value = self.query_one("#protocol", Select).value
        return value if isinstance(value, str) else None

    def show_protocol(self) -> None:
        fields = PROTOCOL_FIELDS.get(self.protocol() or "", ())
        for name in TEST_FIELDS:
            self.query_one(f"#row-{name}").display = name in fields

    @on(Select.Changed, "#protocol")
    def _protocol_changed(self) -> None:
        self.show_protocol()
        self.update_estimate()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input.id and (event.input.id.startswith("f-") or event.input.id == "m-weight_kg"):
            self.update_estimate()

    def _raw(self, widget_id: str) -> object:
        """For the preview: a number, None (empty), or the text as typed (the preview says why not)."""
        text = self.query_one(f"#{widget_id}", Input).value
        try:
            return parse_number(text)
        except ValueError:
            return text

    def update_estimate(self) -> None:
        protocol = self.protocol()
        out = self.query_one("#estimate", Static)
        for name in TEST_FIELDS:
            set_error(self.query_one(f"#err-fitness_test-{name}", Static), "")
        out.display = protocol is not None
        if protocol is None:
            out.update("")
            return
        if self.history.test_sex is None or self.history.test_age is None:
            out.update(
                Text(
                    _(
                        "The live estimate needs the participant's sex and age, which are not "
                        "shared with you; the server computes it when the meeting is saved."
                    ),
                    style="italic dim",
                )
            )
            return
        values = {name: self._raw(f"f-{name}") for name in PROTOCOL_FIELDS[protocol]}
        if values.get("weight_kg") is None:
            values["weight_kg"] = self._raw("m-weight_kg")
        preview_of = fitness.preview_ekblom_bak_2016 if protocol == EB else fitness.preview_astrand_ryhming
        preview = preview_of(sex=self.history.test_sex, age=self.history.test_age, **values)
        for p in preview.problems:
            if p.field in TEST_FIELDS:
                set_error(
                    self.query_one(f"#err-fitness_test-{p.field}", Static),
                    coach_words.problem(p.code, p.params, p.field),
                )
        rule = fitness.EKBLOM_BAK_2016 if protocol == EB else fitness.ASTRAND_RYHMING
        text = Text()
        est = preview.estimate
        if est is not None:
            text.append(
                _("Estimated VO2max: {value} L/min").format(value=coach_words.num(est.vo2max_l_min, 2)),
                style="bold green",
            )
            if est.vo2max_ml_kg_min is not None:
                text.append(
                    " · " + _("{value} mL/kg/min").format(value=coach_words.num(est.vo2max_ml_kg_min, 1)),
                    style="bold green",
                )
            else:
                text.append(" · " + _("no relative value without a weight"), style="dim")
            for w in est.warnings:
                text.append("\n⚠ " + coach_words.problem(w.code, w.params), style="yellow")
        elif preview.missing:
            text.append(
                _("Estimate: still needed: {fields}").format(
                    fields=", ".join(coach_words.field_label(f) for f in preview.missing)
                ),
                style="dim",
            )
        else:
            text.append(_("Estimate: check the values marked."), style="yellow")
        text.append(
            "\n"
            + _(
                "Equation {id} v{version}, for {sex}, age {age} (the server uses the age on the "
                "meeting's date)."
            ).format(id=rule.id, version=rule.version, sex=self.history.test_sex, age=self.history.test_age),
            style="dim",
        )
        out.update(text)

    # ------------------------------------------------------------------ building the meeting

    def build(self) -> MeetingIn:
        """The meeting as typed, without the parts the consent does not cover; FormError if it
        cannot be sent as it is."""
        problems: list[tuple[str, str]] = []

        def number(widget_id: str, path: str) -> float | None:
            try:
                return parse_number(self.query_one(f"#{widget_id}", Input).value)
            except ValueError:
                problems.append((path, _("must be a number")))
                return None

        try:
            held_on = date.fromisoformat(self.query_one("#held_on", Input).value.strip())
        except ValueError:
            problems.append(("held_on", _("a date like {example}").format(example=date.today().isoformat())))
            held_on = date.today()
        kind = MeetingKind(self.query_one("#kind", Select).value)
        parts: dict = {}
        if "vitals" not in self.missing:
            values = {key: number(f"m-{key}", f"measurements.{key}") for key in MEASUREMENTS}
            if any(v is not None for v in values.values()):
                parts["measurements"] = MeasurementsIn(**values)
        protocol = self.protocol()
        if "fitness_tests" not in self.missing and protocol is not None:
            values = {name: number(f"f-{name}", f"fitness_test.{name}") for name in PROTOCOL_FIELDS[protocol]}
            for name, value in values.items():
                if (
                    value is None
                    and name != "weight_kg"
                    and not any(p[0] == f"fitness_test.{name}" for p in problems)
                ):
                    problems.append((f"fitness_test.{name}", _("needed for the test")))
            if not problems:
                model = EkblomBakIn if protocol == EB else AstrandRyhmingIn
                parts["fitness_test"] = model(**values)
        if "questionnaires" not in self.missing:
            answers = {}
            for i, q in enumerate(QUESTIONNAIRE.questions):
                value = self.query_one(f"#q-{i}", Select).value
                if isinstance(value, str):
                    answers[q.id] = value
            if answers:
                parts["questionnaire"] = QuestionnaireIn(
                    questionnaire_id=QUESTIONNAIRE.id, version=QUESTIONNAIRE.version, answers=answers
                )
        if "profiling" not in self.missing:
            notes = self.query_one("#notes", TextArea).text.strip()
            if len(notes) > 4000:
                problems.append(("notes", _("at most 4,000 characters")))
            elif notes:
                parts["notes"] = notes
        if problems:
            raise FormError(problems)
        if not parts:
            raise FormError([("form-error", coach_words.problem("meeting.empty", {}))])
        return MeetingIn(held_on=held_on, kind=kind, **parts)

    def clear_errors(self) -> None:
        for err in self.query(".field-error"):
            if not err.id.startswith("err-fitness_test-"):
                set_error(err, "")

    def show_errors(self, problems: list[tuple[str, str]]) -> None:
        first = None
        for path, text in problems:
            target = "form-error" if path == "form-error" else _dom_id(path)
            try:
                widget = self.query_one(f"#{target}", Static)
            except Exception:  # noqa: BLE001 - a field this form does not show: the general line
                widget = self.query_one("#form-error", Static)
            set_error(widget, Text(text, style="bold red"))
            first = first or widget
        if first is not None:
            self.query_one("#meeting-form", VerticalScroll).scroll_to_widget(first, animate=False)

    # ------------------------------------------------------------------ saving

    def action_save(self) -> None:
        after_typing(self, self.save)  # after the keys that came before Ctrl+S

    def save(self) -> None:
        if self.saved is not None or self.sending:
            return
        self.clear_errors()
        try:
            meeting = self.build()
        except FormError as exc:
            self.show_errors(exc.problems)
            self.status(Text(_("Check the marked fields; nothing was sent."), style="bold red"))
            return
        draft = MeetingDraft(
            person_id=self.person_id,
            key=self.key,
            meeting=meeting.model_dump(mode="json", exclude_none=True),
            label=self.history.label,
            submitted=True,
        )
        self.app.session.meeting_drafts.save(draft)  # kept before it is sent: nothing is lost
        self.draft = draft
        self.sending = True
        self.status(Text(_("Saving…"), style="bold"))
        self.send(meeting)

    @work(exclusive=True, group="save-meeting", exit_on_error=False)
    async def send(self, meeting: MeetingIn) -> None:
        from clinic_tui.api.client import Unreachable
        from clinic_tui.errors import describe

        store = self.app.session.meeting_drafts
        try:
            saved = await CoachApi(self.app.session.client).save_meeting(
                self.person_id, meeting, idempotency_key=self.key
            )
        except Unreachable as exc:
            kept = (
                _("kept on this computer (encrypted)")
                if store.persistent
                else _("kept while the app runs (no OS keyring)")
            )
            self.status(
                Text(
                    describe(exc).text
                    + " "
                    + _(
                        "The meeting is NOT saved yet; it is {kept} and is sent with the same key "
                        "when you press Ctrl+S again or u on the participant list, so it is stored "
                        "only once."
                    ).format(kept=kept),
                    style="bold yellow",
                )
            )
            return
        except InvalidValues as exc:
            self.mark_refused(exc.code)
            self.show_errors(
                [
                    (p.field or "form-error", coach_words.problem(p.code, p.params, p.field))
                    for p in exc.problems
                ]
            )
            self.status(Text(describe(exc).text, style="bold red"))
            return
        except ConsentMissing as exc:
            self.mark_refused(exc.code)
            self.missing |= set(exc.missing)
            self.apply_consent()
            self.status(
                Text(
                    describe(exc).text
                    + " "
                    + _("Those parts are now left out; press Ctrl+S to save the rest."),
                    style="bold yellow",
                )
            )
            return
        except KeyReused as exc:
            self.mark_refused(exc.code)
            self.status(Text(describe(exc).text, style="bold red"))
            return
        finally:
            self.sending = False
        store.remove(self.key)
        self.draft = None
        self.saved = saved
        self.query_one("#meeting-form").disabled = True
        out = Text(_("Meeting saved ({date}). ").format(date=saved.held_on.isoformat()), style="bold green")
        out.append(_("Esc goes back to the participant."), style="dim")
        out.append("\n")
        out.append_text(assessment_text(saved.current.assessment, saved.withheld))
        self.status(out)
        self.app.notify(_("Meeting saved."), markup=False)

    def mark_refused(self, code: str) -> None:
        if self.draft is not None:
            self.draft.refused = code
            self.app.session.meeting_drafts.save(self.draft)

    # ------------------------------------------------------------------ leaving

    def snapshot(self) -> dict:
        """What is typed, as typed (numbers as text): for a form left before it was saved."""
        test = {name: self.query_one(f"#f-{name}", Input).value for name in TEST_FIELDS}
        answers = {}
        for i, q in enumerate(QUESTIONNAIRE.questions):
            value = self.query_one(f"#q-{i}", Select).value
            if isinstance(value, str):
                answers[q.id] = value
        return {
            "held_on": self.query_one("#held_on", Input).value,
            "kind": self.query_one("#kind", Select).value,
            "measurements": {key: self.query_one(f"#m-{key}", Input).value for key in MEASUREMENTS},
            "fitness_test": {"protocol": self.protocol(), **test},
            "questionnaire": {"answers": answers},
            "notes": self.query_one("#notes", TextArea).text,
        }

    def typed_anything(self) -> bool:
        body = self.snapshot()
        return bool(
            any(v.strip() for v in body["measurements"].values())
            or body["fitness_test"]["protocol"]
            or body["questionnaire"]["answers"]
            or body["notes"].strip()
        )

    def action_back(self) -> None:
        if self.saved is None and not self.sending and self.typed_anything():
            if self.draft is None or not self.draft.submitted:
                # typed and never saved: keep it to come back to (it is not sent without her)
                self.draft = MeetingDraft(
                    person_id=self.person_id, key=self.key, meeting=self.snapshot(), label=self.history.label
                )
                self.app.session.meeting_drafts.save(self.draft)
                self.app.notify(
                    _("The unsaved meeting is kept on this computer: press n to go on with it."), markup=False
                )
        self.app.pop_screen()

    def action_discard(self) -> None:
        from clinic_tui.widgets.modals import ConfirmPrompt

        def done(yes: bool) -> None:
            if yes:
                self.app.session.meeting_drafts.remove(self.key)
                self.draft = None
                self.saved = self.saved or None
                self.app.pop_screen()

        if self.saved is not None:
            self.app.pop_screen()
            return
        self.app.push_screen(ConfirmPrompt(_("Throw this meeting away? It has not been saved.")), done)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "save":
            return self.saved is None
        return True


class CorrectionPrompt(ModalScreen[CorrectionIn | None]):
    """Correct one value of a saved meeting: which, the new value (empty clears), and why."""

    BINDINGS = [
        Binding(
            "escape", "cancel", N_("Cancel"), id="correction.cancel", tooltip=N_("Close without correcting")
        ),
        Binding(
            "ctrl+s",
            "commit",
            N_("Save"),
            id="correction.commit",
            tooltip=N_("Save the correction"),
            priority=True,
        ),
    ]

    def __init__(self, meeting: MeetingOut):
        super().__init__()
        self.meeting = meeting

    def fields(self) -> list[tuple[str, str]]:
        current = self.meeting.current
        out = []
        for m in current.measurements or []:
            if m.key in MEASUREMENTS:
                out.append(
                    (
                        f"{coach_words.field_label(m.key)}: {coach_words.num(m.value)} {m.unit}",
                        f"measurements.{m.key}",
                    )
                )
        test = current.fitness_test
        if test is not None:
            for name in PROTOCOL_FIELDS.get(test.equation_id, ()):
                if name in test.inputs:
                    out.append(
                        (f"{coach_words.field_label(name)}: {test.inputs[name]}", f"fitness_test.{name}")
                    )
        out.append((_("notes"), "notes"))
        return out

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(
                Text(
                    _("Correct the meeting of {date} (revision {n})").format(
                        date=self.meeting.held_on.isoformat(), n=self.meeting.current_revision
                    )
                ),
                classes="modal-title",
            )
            yield Select(self.fields(), prompt=_("Which value"), id="correction-field")
            yield Input(placeholder=_("new value (empty clears it)"), id="correction-value")
            yield Input(placeholder=_("reason (required, at least 3 characters)"), id="correction-reason")
            yield Static("", id="correction-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button(_("Save (Ctrl+S)"), id="ok", variant="primary")
                yield Button(_("Cancel (Esc)"), id="cancel")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ok")
    def action_commit(self) -> None:
        after_typing(self, self.commit)  # after the keys that came before Ctrl+S

    def commit(self) -> None:
        error = self.query_one("#correction-error", Static)
        field = self.query_one("#correction-field", Select).value
        if not isinstance(field, str):
            error.update(_("Choose the value to correct."))
            return
        text = self.query_one("#correction-value", Input).value.strip()
        reason = self.query_one("#correction-reason", Input).value.strip()
        if len(reason) < 3:
            error.update(_("A reason of at least 3 characters is required."))
            return
        value: float | str | None
        if field == "notes":
            value = text or None
        else:
            try:
                value = parse_number(text)
            except ValueError:
                error.update(_("The new value must be a number."))
                return
        self.dismiss(
            CorrectionIn(
                expected_revision=self.meeting.current_revision,
                reason=reason[:500],
                changes=[Change(field=field, value=value)],
            )
        )
