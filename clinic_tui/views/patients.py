"""The patient (or participant) list: only the people the server says this user may see."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static

from clinic_tui.api.schemas import PatientSummary
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import personnummer_display, plain, withheld
from clinic_tui.widgets.filter_box import FilterBox
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.whoami import WhoAmI

REFRESH_SECONDS = 30


class PatientListScreen(AppScreen):
    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="patients.filter",
            tooltip="Filter by name, personnummer or condition",
        ),
        Binding("escape", "clear_filter", "Clear filter", id="patients.clear", tooltip="Clear the filter"),
        Binding("enter", "open", "Open", id="patients.open", tooltip="Open the selected person", show=True),
        Binding("r", "refresh", "Refresh", id="patients.refresh", tooltip="Reload the list from the server"),
        Binding(
            "b",
            "break_glass",
            "Emergency access",
            id="patients.break_glass",
            tooltip="Break the glass: open a record without consent, with a reason (nurses)",
        ),
    ]

    def __init__(self):
        super().__init__()
        self.people: dict[str, PatientSummary] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield FilterBox("Filter: name, personnummer, condition (Esc clears)")
        yield DataTable(id="patients", cursor_type="row", zebra_stripes=True)
        yield Static("Loading…", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.client.user
        role_word = {"nurse": "Patients", "coach": "Participants", "supervisor": "People"}[user.role]
        self.title = f"{role_word} — {user.organization_name}"
        table = self.query_one(DataTable)
        table.add_column("Name", key="name", width=28)
        table.add_column("Personnummer", key="pnr", width=15)
        table.add_column("Born", key="born", width=11)
        table.add_column("Conditions", key="conditions", width=34)
        table.add_column("Access", key="access", width=20)
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
            page = await self.app.client.patients(q=query or None, cursor=cursor)
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
                    else withheld("not shared"),
                    plain(p.birth_date) if shares_identity else withheld("—"),
                    plain(", ".join(p.conditions)) if p.conditions is not None else withheld("not shared"),
                    Text("break-glass", style="bold red")
                    if p.access_basis == "break_glass"
                    else plain(p.access_basis),
                    key=p.id,
                )
            if keep in self.people:
                table.move_cursor(row=table.get_row_index(keep))
        status = self.query_one("#list-status", Static)
        if self.app.client.user.role == "supervisor":
            status.update("Supervisors do not see personal data; use the audit views.")
        elif not items:
            status.update("No one matches." if query else "No one has shared data with your organization.")
        else:
            status.update(f"{len(items)} shown" + (f" matching “{query}”" if query else ""))

    # ------------------------------------------------------------------ actions

    def action_filter(self) -> None:
        self.query_one(FilterBox).open()

    def action_clear_filter(self) -> None:
        self.query_one(FilterBox).close()
        self.query_one(DataTable).focus()

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
            return (
                self.app.client is not None
                and self.app.client.user is not None
                and (self.app.client.user.role == "nurse")
            )
        return True

    def action_break_glass(self, personnummer: str = "", reason: str = "", error: str = "") -> None:
        from clinic_tui.widgets.modals import BreakGlassPrompt

        def done(answer: tuple[str, str] | None) -> None:
            if answer:
                self.break_glass(*answer)

        self.app.push_screen(BreakGlassPrompt(personnummer, reason, error), done)

    @work(group="break-glass", exit_on_error=False)
    async def break_glass(self, personnummer: str, reason: str) -> None:
        from clinic_tui.api.client import ApiError, Unreachable

        try:
            grant = await self.app.client.break_glass_by_personnummer(personnummer, reason)
        except Unreachable as exc:
            self.action_break_glass(personnummer, reason, f"{exc.message} Nothing was lost; try again.")
            return
        except ApiError as exc:
            if exc.status == 409:  # already has access by consent: just open it
                self.app.notify(exc.message)
                found = await self.app.client.patients(q=personnummer)
                if found.items:
                    self.open_person(found.items[0].id)
                return
            self.action_break_glass(personnummer, reason, exc.message)
            return
        self.app.notify("Emergency access granted; it is logged and will be reviewed.", severity="warning")
        self.load()
        self.open_person(grant.person_id)

    def open_person(self, person_id: str | None) -> None:
        if person_id:
            self.app.open_patient(person_id)
