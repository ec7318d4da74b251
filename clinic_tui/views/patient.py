"""One person's record, as far as their consent allows; withheld sections say so."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from clinic_tui.api.schemas import PatientDetail
from clinic_tui.views.format import NOT_SHARED, local_time, personnummer_display, plain, withheld

REFRESH_SECONDS = 30


class PatientScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="patient.back", tooltip="Back to the list"),
        Binding("r", "refresh", "Refresh", id="patient.refresh", tooltip="Reload from the server"),
    ]

    def __init__(self, person_id: str):
        super().__init__()
        self.person_id = person_id
        self.detail: PatientDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="access-banner", classes="hidden")
        with VerticalScroll(id="patient-body"):
            yield Static("Loading…", id="identity")
            yield Static("Contact", classes="section-title")
            yield Static("", id="contact")
            yield Static("Conditions", classes="section-title")
            yield Static("", id="conditions")
            yield Static("Latest measurements", classes="section-title")
            yield DataTable(id="latest", cursor_type="row", show_cursor=False)
            yield Static("", id="latest-note")
            yield Static("Medications, history, goals", classes="section-title")
            yield Static("", id="records")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#latest", DataTable)
        table.add_columns("Measurement", "Value", "Unit", "Measured")
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)

    @work(exclusive=True, group="patient", exit_on_error=False)
    async def load(self) -> None:
        from clinic_tui.api.client import Forbidden

        try:
            detail = await self.app.client.patient(self.person_id)
        except Forbidden as exc:
            self.clear_and_close(exc.message)
            return
        self.show(detail)

    def clear_and_close(self, message: str) -> None:
        """Access ended (consent withdrawn or expired, grant over): clear what was shown, then leave."""
        self.detail = None
        for widget_id in ("#identity", "#contact", "#conditions", "#records", "#latest-note"):
            self.query_one(widget_id, Static).update("")
        self.query_one("#latest", DataTable).clear()
        self.app.notify(message, title="Access ended", severity="warning", timeout=8)
        if self.app.screen is self:
            self.app.pop_screen()

    def show(self, d: PatientDetail) -> None:
        self.detail = d
        shared = set(d.shared)
        self.title = d.label
        banner = self.query_one("#access-banner", Static)
        if d.access_basis == "break_glass" and d.break_glass_until:
            banner.update(
                Text(
                    f"Emergency access (break-the-glass) until {local_time(d.break_glass_until, False)}",
                    style="bold",
                )
            )
            banner.remove_class("hidden")
        else:
            banner.add_class("hidden")

        if "identity" in shared:
            ident = Text()
            ident.append(d.label, style="bold")
            ident.append(f"   {personnummer_display(d.personnummer)}   born {d.birth_date}   {d.sex}")
        else:
            ident = Text(d.label, style="bold")
            ident.append("   identity ", style="dim")
            ident.append(NOT_SHARED, style="italic dim")
        self.query_one("#identity", Static).update(ident)

        if d.contact is not None:
            c = d.contact
            self.query_one("#contact", Static).update(
                plain(" · ".join(x for x in (c.phone, c.email, c.address) if x))
            )
        else:
            self.query_one("#contact", Static).update(withheld())

        if d.conditions is not None:
            self.query_one("#conditions", Static).update(plain(", ".join(d.conditions) or "none recorded"))
        else:
            self.query_one("#conditions", Static).update(withheld())

        table = self.query_one("#latest", DataTable)
        table.clear()
        if d.latest is not None:
            for v in d.latest:
                table.add_row(
                    plain(v.display), plain(f"{v.value:g}"), plain(v.unit), plain(local_time(v.effective_at))
                )
            self.query_one("#latest-note", Static).update("" if d.latest else "No measurements yet.")
            table.display = True
        else:
            table.display = False
            self.query_one("#latest-note", Static).update(withheld())

        record_cats = {"medications", "history", "goals", "social", "questionnaires"}
        if shared & record_cats:
            text = Text()
            for r in d.records:
                text.append(f"{r.category:<12}", style="dim")
                text.append(r.text + "\n")
            missing = sorted(record_cats - shared)
            if missing:
                text.append(f"{', '.join(missing)}: ", style="dim")
                text.append(NOT_SHARED, style="italic dim")
            self.query_one("#records", Static).update(text if text.plain else plain("Nothing recorded."))
        else:
            self.query_one("#records", Static).update(withheld())

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()
