"""The coach's home: her participants, with what the next meeting needs to know at a glance.

One row per participant (``CoachApi.participants``): the name and employer where her basis covers
them (a pseudonym otherwise), the last meeting and how many, when the next fitness test is due,
an objection to profiling, and which meeting categories the consent does not cover. Enter opens
the participant (``views/participant.py``). Meetings the server has not stored yet are kept on
this computer (``meeting_drafts``): the status line counts them and ``u`` sends them again.
"""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from clinic_tui import labels
from clinic_tui.api.coach import CoachApi
from clinic_tui.api.schemas.coach import ParticipantRow
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import plain, withheld
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.whoami import WhoAmI

REFRESH_SECONDS = 60


def send_drafts_report(result) -> tuple[str, str]:
    """What a round of sending kept drafts did, worded: (text, severity)."""
    from clinic_tui.errors import describe

    parts = []
    if result.stored:
        parts.append(
            ngettext(
                "{n} kept meeting stored by the server.",
                "{n} kept meetings stored by the server.",
                len(result.stored),
            ).format(n=len(result.stored))
        )
    for _draft, error in result.refused:
        parts.append(
            _("A kept meeting was refused: {why} Open the participant and press n to fix it.").format(
                why=describe(error).text
            )
        )
    if result.unreachable is not None:
        parts.append(
            describe(result.unreachable).text
            + " "
            + _("The unsent meetings stay on this computer; they are sent with the same key later.")
        )
    if not parts:
        return _("No unsent meetings."), "information"
    severity = "warning" if result.refused or result.unreachable is not None else "information"
    return " ".join(parts), severity


class ParticipantListScreen(AppScreen):
    BINDINGS = [
        Binding(
            "enter",
            "open",
            N_("Open"),
            id="participants.open",
            tooltip=N_("Open the selected participant"),
            show=True,
        ),
        Binding("r", "refresh", N_("Refresh"), id="participants.refresh", tooltip=N_("Reload the list")),
        Binding(
            "u",
            "send_drafts",
            N_("Send unsent"),
            id="participants.send_drafts",
            tooltip=N_("Send the meetings kept on this computer again (each with its own key: stored once)"),
        ),
    ]

    def __init__(self):
        super().__init__()
        self.rows: dict[str, ParticipantRow] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield DataTable(id="participants", cursor_type="row", zebra_stripes=True)
        yield Static(_("Loading…"), id="list-status")
        yield Static("", id="drafts-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.session.user
        self.title = _("Participants — {organization}").format(organization=user.organization_name)
        table = self.query_one(DataTable)
        table.add_column(_("Name"), key="name", width=22)
        table.add_column(_("Employer"), key="employer", width=16)
        table.add_column(_("Last meeting"), key="last", width=12)
        table.add_column(_("Meetings"), key="count", width=8)
        table.add_column(_("Next test"), key="due", width=12)
        table.add_column(_("Objection"), key="objection", width=10)
        table.add_column(_("Consent missing"), key="missing", width=30)
        table.focus()
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.rows:
            self.load()

    @property
    def api(self) -> CoachApi:
        return CoachApi(self.app.session.client)

    @work(exclusive=True, group="participants", exit_on_error=False)
    async def load(self) -> None:
        page = await self.api.participants()
        self.show(page.items)

    def show(self, items: list[ParticipantRow]) -> None:
        table = self.query_one(DataTable)
        keep = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        )
        self.rows = {p.id: p for p in items}
        today = date.today()
        with self.app.batch_update():
            table.clear()
            for p in items:
                table.add_row(*self.cells(p, today), key=p.id)
            if keep in self.rows:
                table.move_cursor(row=table.get_row_index(keep))
        status = self.query_one("#list-status", Static)
        status.update(
            _("{n} participants").format(n=len(items)) if items else _("No participants assigned to you.")
        )
        self.show_drafts()

    def cells(self, p: ParticipantRow, today: date) -> list[Text]:
        name = plain(p.label) if "identity" in p.shared else withheld(p.label)
        if p.employer:
            employer = plain(p.employer)
        else:
            employer = withheld(_("not shared") if "occupation" in p.withheld else "—")
        last = plain(p.last_meeting_on.isoformat()) if p.last_meeting_on else withheld("—")
        if p.test_due is None:
            due = withheld(_("not shared"))
        elif p.test_due_on is None:
            due = Text(_("due now"), style="bold")
        else:
            due = Text(
                p.test_due_on.isoformat(), style="bold" if p.test_due or p.test_due_on <= today else ""
            )
        objection = Text(_("objects"), style="bold yellow") if p.objected_to_profiling else plain("—")
        missing = (
            Text(", ".join(labels.category(c) for c in p.missing), style="yellow")
            if p.missing
            else plain("—")
        )
        return [name, employer, last, plain(str(p.meetings)), due, objection, missing]

    def show_drafts(self) -> None:
        store = self.app.session.meeting_drafts
        drafts = [d for d in store.all() if d.submitted]
        line = self.query_one("#drafts-status", Static)
        if not drafts:
            line.update("")
            return
        text = ngettext(
            "{n} meeting the server has not stored yet is kept on this computer (encrypted); press "
            "u to send it.",
            "{n} meetings the server has not stored yet are kept on this computer (encrypted); "
            "press u to send them.",
            len(drafts),
        ).format(n=len(drafts))
        if not store.persistent:
            text += " " + _("No OS keyring: they are kept only while the app runs.")
        line.update(Text(text, style="bold yellow"))

    # ------------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        self.load()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_participant(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.open_participant(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def open_participant(self, person_id: str | None) -> None:
        if not person_id or person_id not in self.rows:
            return
        from clinic_tui.views.participant import ParticipantScreen

        self.app.push_screen(ParticipantScreen(self.rows[person_id]))

    def action_send_drafts(self) -> None:
        self.send_drafts()

    @work(exclusive=True, group="send-drafts", exit_on_error=False)
    async def send_drafts(self) -> None:
        from clinic_tui.meeting_drafts import send

        store = self.app.session.meeting_drafts
        result = await send(self.api, store, [d for d in store.all() if d.submitted])
        text, severity = send_drafts_report(result)
        self.app.notify(text, severity=severity, timeout=10, markup=False)
        self.show_drafts()
        if result.stored:
            self.load()
