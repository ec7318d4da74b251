"""The patient (or participant) list: only the people the server says this user may see."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static

from clinic_tui import labels
from clinic_tui.api.schemas import PatientSummary
from clinic_tui.domain.roles import Basis, Role
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import personnummer_display, plain, withheld
from clinic_tui.widgets.filter_box import FilterBox
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.whoami import WhoAmI

REFRESH_SECONDS = 30
#: what the list is called, by role
PEOPLE = {Role.NURSE: N_("Patients"), Role.COACH: N_("Participants")}


class PatientListScreen(AppScreen):
    AREA = N_("Patients")
    HELP_TEXT = N_(
        "The people who have shared data with your organization. Type / to filter by name, "
        "personnummer or condition; Enter opens the record. Esc clears the filter."
    )
    BINDINGS = [
        Binding(
            "slash",
            "filter",
            N_("Filter"),
            id="patients.filter",
            tooltip=N_("Filter by name, personnummer or condition"),
        ),
        Binding(
            "escape",
            "clear_filter",
            N_("Clear filter"),
            id="patients.clear",
            tooltip=N_("Clear the filter; with no filter, back to where you came from"),
        ),
        Binding(
            "q,backspace",
            "back",
            N_("Back"),
            id="patients.back",
            tooltip=N_("Back to where you came from (the alert queue)"),
        ),
        Binding(
            "enter", "open", N_("Open"), id="patients.open", tooltip=N_("Open the selected person"), show=True
        ),
        Binding(
            "r",
            "refresh",
            N_("Refresh"),
            id="patients.refresh",
            tooltip=N_("Reload the list from the server"),
        ),
        Binding(
            "b",
            "break_glass",
            N_("Emergency access"),
            id="patients.break_glass",
            tooltip=N_("Break the glass: open a record without consent, with a reason (nurses)"),
        ),
    ]

    def __init__(self):
        super().__init__()
        self.people: dict[str, PatientSummary] = {}
        #: the emergency-access dialog's personnummer and reason when it was last cancelled
        self.glass_draft: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield FilterBox(_("Filter: name, personnummer, condition (Esc clears)"))
        yield DataTable(id="patients", cursor_type="row", zebra_stripes=True)
        yield Static(_("Loading…"), id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.session.user
        people = _(PEOPLE.get(user.role, N_("People")))
        self.title = _("{people} — {organization}").format(people=people, organization=user.organization_name)
        table = self.query_one(DataTable)
        table.add_column(_("Name"), key="name", width=28)
        table.add_column(_("Personnummer"), key="pnr", width=15)
        table.add_column(_("Born"), key="born", width=11)
        table.add_column(_("Conditions"), key="conditions", width=34)
        table.add_column(_("Access"), key="access", width=20)
        table.focus()
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    # ------------------------------------------------------------------ data

    @work(exclusive=True, group="patients", exit_on_error=False)
    async def load(self, query: str | None = None) -> None:
        if query is None:
            query = self.query_one("#filter", Input).value.strip()
        items: list[PatientSummary] = []
        cursor = None
        while True:
            page = await self.app.session.client.patients(q=query or None, cursor=cursor)
            items += page.items
            cursor = page.next_cursor
            if not cursor or len(items) >= 5000:
                break
        self.show(items, query)

    def show(self, items: list[PatientSummary], query: str) -> None:
        table = self.query_one(DataTable)
        keep = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        )
        self.people = {p.id: p for p in items}
        with self.app.batch_update():
            table.clear()
            for p in items:
                shares_identity = "identity" in p.shared
                table.add_row(
                    plain(p.label) if shares_identity else withheld(p.label),
                    plain(personnummer_display(p.personnummer))
                    if shares_identity
                    else withheld(_("not shared")),
                    plain(p.birth_date) if shares_identity else withheld("—"),
                    plain(", ".join(labels.conditions(p.condition_codes, p.conditions)))
                    if p.conditions is not None
                    else withheld(_("not shared")),
                    Text(labels.basis(p.access_basis), style="bold red")
                    if p.access_basis == Basis.BREAK_GLASS
                    else plain(labels.basis(p.access_basis)),
                    key=p.id,
                )
            if keep in self.people:
                table.move_cursor(row=table.get_row_index(keep))
        status = self.query_one("#list-status", Static)
        if self.app.session.user.role == Role.SUPERVISOR:
            status.update(_("Supervisors do not see personal data; use the audit views."))
        elif not items:
            status.update(
                _("No one matches.") if query else _("No one has shared data with your organization.")
            )
        elif query:
            status.update(Text(_("{n} shown matching “{query}”").format(n=len(items), query=query)))
        else:
            status.update(_("{n} shown").format(n=len(items)))

    # ------------------------------------------------------------------ actions

    def action_filter(self) -> None:
        self.query_one(FilterBox).open()

    def action_clear_filter(self) -> None:
        box = self.query_one(FilterBox)
        if not box.value and box.has_class("hidden") and self.opened_from_elsewhere:
            self.action_back()  # nothing to clear: Esc goes back (issue 13.2)
            return
        box.close()
        self.query_one(DataTable).focus()

    @property
    def opened_from_elsewhere(self) -> bool:
        """Pushed over another screen (the queue's `p`), not the home screen of a role."""
        stack = self.app.screen_stack
        return self in stack and stack.index(self) > 1

    def action_back(self) -> None:
        if self.opened_from_elsewhere and self.app.screen is self:
            self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.load(event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_person(event.row_key.value)

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.open_person(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "break_glass":
            session = self.app.session
            return session is not None and session.user is not None and session.user.role == Role.NURSE
        if action == "back":
            return self.opened_from_elsewhere  # (not offered where there is no back)
        return True

    def action_break_glass(self, personnummer: str = "", reason: str = "", error: str = "") -> None:
        from clinic_tui.widgets.modals import BreakGlassPrompt

        def done(answer: tuple[str, str] | None) -> None:
            if answer:
                self.glass_draft = ("", "")
                self.break_glass(*answer)

        def keep(pnr: str, why: str) -> None:  # Esc keeps what was typed for the next `b` (issue 13.4)
            self.glass_draft = (pnr, why)

        if not (personnummer or reason):
            personnummer, reason = self.glass_draft
        self.app.push_screen(BreakGlassPrompt(personnummer, reason, error, keep=keep), done)

    @work(group="break-glass", exit_on_error=False)
    async def break_glass(self, personnummer: str, reason: str) -> None:
        """Recovers from what a reason typed would be lost to (the dialog comes back with it, and
        the refusal); a session that ended goes to the app's one error handler."""
        from clinic_tui.api.client import ApiError, NotAuthenticated, Unreachable
        from clinic_tui.api.schemas import ErrorCode
        from clinic_tui.errors import describe

        client = self.app.session.client
        try:
            grant = await client.break_glass_by_personnummer(personnummer, reason)
        except NotAuthenticated:
            raise
        except Unreachable as exc:
            kept = describe(exc).text + " " + _("Nothing was lost; try again.")
            self.action_break_glass(personnummer, reason, kept)
            return
        except ApiError as exc:
            if exc.code == ErrorCode.ALREADY_HAS_ACCESS or exc.status == 409:  # consent: just open it
                self.app.notify(describe(exc).text, markup=False)
                found = await client.patients(q=personnummer)
                if found.items:
                    self.open_person(found.items[0].id)
                return
            self.action_break_glass(personnummer, reason, describe(exc).text)
            return
        self.app.notify(_("Emergency access granted; it is logged and will be reviewed."), severity="warning")
        self.load()
        self.open_person(grant.person_id)

    def open_person(self, person_id: str | None) -> None:
        if person_id:
            self.app.open_patient(person_id)
