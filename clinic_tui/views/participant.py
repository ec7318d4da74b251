"""One participant's history for her coach: meetings (oldest first, every version), the VO2max and
weight trends, and the participant's objection to profiling.

What it shows comes from ``CoachApi.history``; parts of a category the participant's consent does
not cover read "not shared". ``n`` opens the meeting form (``views/meeting.py``), with a meeting
kept on this computer for her if there is one; ``o`` records or withdraws the objection after a
confirmation; ``c`` corrects the selected meeting (a reason is required).
"""

from __future__ import annotations

from datetime import date, datetime, time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Static

from clinic_tui import coach_words, labels
from clinic_tui.api.coach import CoachApi
from clinic_tui.api.schemas.coach import (
    AssessmentOut,
    MeetingOut,
    MeetingVersion,
    ParticipantHistory,
    ParticipantRow,
    SeriesPoint,
)
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import local_time, plain, withheld
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.trend_chart import ChartData, TrendChart

#: what each part of a meeting is called in its detail
PART = {
    "measurements": N_("Measurements"),
    "questionnaire": N_("Questionnaire"),
    "fitness_test": N_("Cycle test"),
    "notes": N_("Notes"),
}


def assessment_text(
    assessment: AssessmentOut | None, withheld_categories: list[str] = (), objected: bool = False
) -> Text:
    """The automated assessment: each conclusion with its explanation and rule (GDPR art. 22)."""
    out = Text()
    if assessment is None:
        if objected:
            out.append(
                _("Assessment: not shown while the participant objects to profiling"), style="italic dim"
            )
        elif "profiling" in withheld_categories:
            out.append(_("Assessment: not shared (the consent does not cover profiling)"), style="italic dim")
        else:
            out.append(_("Assessment: none"), style="italic dim")
        return out
    out.append(
        _("Automated assessment ({ruleset} v{version}): {status}").format(
            ruleset=assessment.ruleset_id,
            version=assessment.ruleset_version,
            status=coach_words.status(assessment.status),
        ),
        style="bold",
    )
    for c in assessment.conclusions:
        out.append("\n  ")
        out.append(f"{coach_words.conclusion(c.code)}: ", style="bold")
        out.append(coach_words.value(c.value), style="yellow" if c.value == "flagged" else "")
        out.append(f" — {coach_words.explanation(c.explanation.key, c.explanation.params)}")
        out.append(
            "  " + _("[{rule} v{version}]").format(rule=c.rule_id, version=c.rule_version), style="dim"
        )
    if assessment.withheld:
        out.append("\n  ")
        out.append(
            _("Not shown (rest on data not shared with you): {codes}").format(
                codes=", ".join(coach_words.conclusion(c) for c in assessment.withheld)
            ),
            style="italic dim",
        )
    return out


def _measure_name(key: str) -> str:
    return "BMI" if key == "bmi" else coach_words.field_label(key)


def version_text(version: MeetingVersion, withheld_categories: list[str], objected: bool = False) -> Text:
    out = Text()

    def part(name: str, category: str, present: bool) -> bool:
        out.append(f"\n{_(PART[name])}: ", style="bold")
        if not present:
            out.append(
                _("not shared") if category in withheld_categories else _("not recorded"), style="italic dim"
            )
        return present

    if part("measurements", "vitals", bool(version.measurements)):
        out.append(
            ", ".join(
                f"{_measure_name(m.key)} {coach_words.num(m.value)} {m.unit}" for m in version.measurements
            )
        )
    if part("fitness_test", "fitness_tests", version.fitness_test is not None):
        t = version.fitness_test
        out.append(_("VO2max {value} L/min").format(value=coach_words.num(t.vo2max_l_min, 2)))
        if t.vo2max_ml_kg_min is not None:
            out.append(", " + _("{value} mL/kg/min").format(value=coach_words.num(t.vo2max_ml_kg_min, 1)))
        out.append(
            " " + _("[{rule} v{version}]").format(rule=t.equation_id, version=t.equation_version), style="dim"
        )
        for w in t.warnings:
            out.append("\n  ⚠ " + coach_words.problem(w.code, w.params), style="yellow")
    if part("questionnaire", "questionnaires", version.questionnaire is not None):
        q = version.questionnaire
        out.append(
            _("{n} answers ({id} v{version})").format(
                n=len(q.answers), id=q.questionnaire_id, version=q.version
            )
        )
    if part("notes", "profiling", version.notes is not None):
        out.append(version.notes)
    out.append("\n")
    out.append_text(assessment_text(version.assessment, withheld_categories, objected))
    return out


def meeting_text(meeting: MeetingOut, objected: bool = False) -> Text:
    """A meeting: its current version, then who changed what and when, and the earlier versions."""
    out = Text()
    out.append(
        _("{date} · {kind} · by {coach} · revision {revision}").format(
            date=meeting.held_on.isoformat(),
            kind=coach_words.kind(meeting.kind),
            coach=meeting.coach,
            revision=meeting.current_revision,
        ),
        style="bold",
    )
    out.append_text(version_text(meeting.current, meeting.withheld, objected))
    if len(meeting.revisions) > 1:
        out.append("\n" + _("Versions:"), style="bold")
        for r in meeting.revisions:
            line = _("{n}: {at} by {author}").format(n=r.number, at=local_time(r.created_at), author=r.author)
            if r.reason:
                line += " — " + r.reason + (f" ({', '.join(r.changes or [])})" if r.changes else "")
            elif r.redacted:
                line += " — " + _("reason not shared")
            out.append("\n  " + line)
        for v in meeting.earlier:
            out.append("\n" + _("— as of revision {n} —").format(n=v.revision), style="dim")
            out.append_text(version_text(v, meeting.withheld, objected))
    return out


def chart(title: str, unit: str, series: list[SeriesPoint]) -> ChartData | None:
    if not series:
        return None
    points = [(datetime.combine(p.held_on, time(12)).astimezone(), p.value) for p in series]
    end = datetime.combine(date.today(), time(12)).astimezone()
    days = max(30, (end - points[0][0]).days + 30)
    return ChartData(title=title, unit=unit, points=points, end=end, days=days)


class ParticipantScreen(AppScreen):
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="participant.back", tooltip=N_("Back to the participants")),
        Binding(
            "n",
            "new_meeting",
            N_("New meeting"),
            id="participant.new_meeting",
            tooltip=N_("Record a meeting (a kept unsent one opens first)"),
        ),
        Binding(
            "o",
            "objection",
            N_("Objection"),
            id="participant.objection",
            tooltip=N_("Record or withdraw the participant's objection to profiling (asks first)"),
        ),
        Binding(
            "c",
            "correct",
            N_("Correct"),
            id="participant.correct",
            tooltip=N_("Correct a value of the selected meeting (a reason is required)"),
        ),
        Binding(
            "r", "refresh", N_("Refresh"), id="participant.refresh", tooltip=N_("Reload from the server")
        ),
    ]

    def __init__(self, row: ParticipantRow):
        super().__init__()
        self.row = row
        self.person_id = row.id
        self.history: ParticipantHistory | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="participant-summary")
        yield Static("", id="participant-drafts")
        with VerticalScroll(id="participant-body"):
            with Horizontal(id="participant-charts"):
                yield TrendChart(id="vo2-chart")
                yield TrendChart(id="weight-chart")
            yield DataTable(id="meetings", cursor_type="row", zebra_stripes=True)
            yield Static("", id="meeting-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = self.row.label
        table = self.query_one("#meetings", DataTable)
        table.add_column(_("Date"), key="date", width=11)
        table.add_column(_("Kind"), key="kind", width=14)
        table.add_column(_("Revision"), key="rev", width=8)
        table.add_column(_("Coach"), key="coach", width=18)
        table.add_column(_("VO2max"), key="vo2", width=16)
        table.add_column(_("Assessment"), key="assessment", width=14)
        table.focus()
        self.load()

    def on_screen_resume(self) -> None:
        if self.history is not None:
            self.load()

    @property
    def api(self) -> CoachApi:
        return CoachApi(self.app.session.client)

    @work(exclusive=True, group="participant", exit_on_error=False)
    async def load(self) -> None:
        from clinic_tui.api.coach import ConsentMissing

        try:
            history = await self.api.history(self.person_id)
        except ConsentMissing as exc:
            self.show_refused(exc.missing)
            return
        self.show(history)

    def show_refused(self, missing: list[str]) -> None:
        """Her consent covers none of the meeting categories: nothing to read or record."""
        self.history = None
        summary = Text(self.row.label, style="bold")
        summary.append(
            "\n"
            + _(
                "The participant's consent does not cover {categories}: no meeting can be read or "
                "recorded until she consents."
            ).format(categories=", ".join(labels.category(c) for c in missing)),
            style="yellow",
        )
        self.query_one("#participant-summary", Static).update(summary)
        for chart_id in ("#vo2-chart", "#weight-chart"):
            self.query_one(chart_id, TrendChart).display = False
        self.query_one("#meetings", DataTable).display = False
        self.query_one("#meeting-detail", Static).update("")
        self.refresh_bindings()

    def show(self, history: ParticipantHistory) -> None:
        self.history = history
        self.title = history.label
        summary = Text()
        summary.append(history.label, style="bold")
        if self.row.employer:
            summary.append(f" · {self.row.employer}")
        if history.missing:
            summary.append(
                "\n"
                + _("Consent does not cover: {categories}").format(
                    categories=", ".join(labels.category(c) for c in history.missing)
                ),
                style="yellow",
            )
        summary.append("\n")
        if history.objected_to_profiling:
            summary.append(
                _("Objects to profiling: no automated assessment is made or shown."), style="bold yellow"
            )
        else:
            summary.append(_("No objection to profiling."), style="dim")
        if self.row.test_due_on is not None or self.row.test_due:
            summary.append(
                "  "
                + _("Next fitness test: {due}").format(
                    due=self.row.test_due_on.isoformat() if self.row.test_due_on else _("due now")
                )
            )
        self.query_one("#participant-summary", Static).update(summary)
        self.query_one("#vo2-chart", TrendChart).show(
            chart(_("VO2max"), "mL/kg/min", history.vo2max_ml_kg_min)
        )
        self.query_one("#weight-chart", TrendChart).show(chart(_("Weight"), "kg", history.weight_kg))
        self.query_one("#vo2-chart", TrendChart).display = bool(history.vo2max_ml_kg_min)
        self.query_one("#weight-chart", TrendChart).display = bool(history.weight_kg)
        self.query_one("#meetings", DataTable).display = True
        table = self.query_one("#meetings", DataTable)
        keep = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        )
        with self.app.batch_update():
            table.clear()
            for m in history.meetings:
                test = m.current.fitness_test
                if test is not None:
                    vo2 = plain(
                        f"{coach_words.num(test.vo2max_ml_kg_min, 1)} mL/kg/min"
                        if test.vo2max_ml_kg_min is not None
                        else f"{coach_words.num(test.vo2max_l_min, 2)} L/min"
                    )
                else:
                    vo2 = withheld(_("not shared") if "fitness_tests" in m.withheld else "—")
                a = m.current.assessment
                table.add_row(
                    plain(m.held_on),
                    plain(coach_words.kind(m.kind)),
                    plain(str(m.current_revision)),
                    plain(m.coach),
                    vo2,
                    plain(coach_words.status_short(a.status) if a is not None else "—"),
                    key=m.id,
                )
            ids = [m.id for m in history.meetings]
            if keep in ids:
                table.move_cursor(row=ids.index(keep))
            elif ids:
                table.move_cursor(row=len(ids) - 1)
        if not history.meetings:
            self.query_one("#meeting-detail", Static).update(
                Text(_("No meetings yet. Press n to record one."), style="dim")
            )
        else:
            self.show_meeting(self.selected_meeting())
        self.show_drafts()
        self.refresh_bindings()

    def show_drafts(self) -> None:
        drafts = self.app.session.meeting_drafts.for_person(self.person_id)
        line = self.query_one("#participant-drafts", Static)
        if drafts:
            line.update(
                Text(
                    _(
                        "A meeting for this participant is kept on this computer, not yet stored "
                        "by the server: press n to open and save it."
                    ),
                    style="bold yellow",
                )
            )
        else:
            line.update("")

    def selected_meeting(self) -> MeetingOut | None:
        table = self.query_one("#meetings", DataTable)
        if self.history is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((m for m in self.history.meetings if m.id == key), None)

    def show_meeting(self, meeting: MeetingOut | None) -> None:
        objected = self.history is not None and self.history.objected_to_profiling
        self.query_one("#meeting-detail", Static).update(meeting_text(meeting, objected) if meeting else "")

    @on(DataTable.RowHighlighted, "#meetings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_meeting(self.selected_meeting())

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("new_meeting", "objection"):
            return self.history is not None
        if action == "correct":
            return self.history is not None and bool(self.history.meetings)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()

    def action_new_meeting(self) -> None:
        if self.history is None:
            return
        from clinic_tui.views.meeting import MeetingScreen

        drafts = self.app.session.meeting_drafts.for_person(self.person_id)
        self.app.push_screen(MeetingScreen(self.history, draft=drafts[0] if drafts else None))

    def action_objection(self) -> None:
        if self.history is None:
            return
        from clinic_tui.widgets.modals import ConfirmPrompt

        if self.history.objected_to_profiling:
            question = _(
                "Withdraw {name}'s objection to profiling? Automated assessments are made again "
                "from the next save."
            ).format(name=self.history.label)
        else:
            question = _(
                "Record that {name} objects to profiling? No automated assessment is made or shown "
                "while it is in force."
            ).format(name=self.history.label)
        objected = self.history.objected_to_profiling
        self.app.push_screen(ConfirmPrompt(question), lambda yes: yes and self.toggle_objection(objected))

    @work(exclusive=True, group="objection", exit_on_error=False)
    async def toggle_objection(self, objected: bool) -> None:
        if objected:
            await self.api.withdraw_objection(self.person_id)
            self.app.notify(_("The objection to profiling is withdrawn."), markup=False)
        else:
            await self.api.object_to_profiling(self.person_id)
            self.app.notify(_("The objection to profiling is recorded."), markup=False)
        self.load()

    def action_correct(self) -> None:
        meeting = self.selected_meeting()
        if meeting is None:
            self.app.notify(_("Select a meeting to correct."), severity="warning")
            return
        from clinic_tui.views.meeting import CorrectionPrompt

        def done(correction) -> None:
            if correction is not None:
                self.correct(meeting.id, correction)

        self.app.push_screen(CorrectionPrompt(meeting), done)

    @work(group="correct", exit_on_error=False)
    async def correct(self, meeting_id: str, correction) -> None:
        from clinic_tui.api.coach import InvalidValues, StaleMeeting
        from clinic_tui.errors import describe

        try:
            await self.api.correct(meeting_id, correction)
        except (InvalidValues, StaleMeeting) as exc:
            why = "; ".join(coach_words.problem(p.code, p.params, p.field) for p in exc.problems)
            self.app.notify(
                describe(exc).text + (" " + why if why else ""), severity="warning", timeout=10, markup=False
            )
            self.load()
            return
        self.app.notify(_("Correction saved as a new revision."), markup=False)
        self.load()
