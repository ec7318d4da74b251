"""One person's record, as far as their consent allows; withheld sections say so.

The screen is a frame of panels (``clinic_tui/widgets/patient``): which ones depends on the role
(``PANELS``), and each fetches, shows and offers keys for its own part. The screen only opens a
person (``open``), passes the record on to every panel as it arrives, wipes them, refreshes them,
and closes itself when the access ends.

The app keeps one PatientScreen and points it at each person it opens (``ClinicApp.open_patient``):
building a screen costs more than fetching a record. ``open`` wipes everything shown of the
previous person before the screen is shown again, and leaving the screen wipes it too, so no one's
data lingers in a screen that is not on view.
"""

from __future__ import annotations

from textual import on
from textual.actions import parse
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Header
from textual.worker import Worker

from clinic_tui.api.schemas import PatientDetail
from clinic_tui.domain.roles import Role
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.patient import (
    AccessBanner,
    AlertsPanel,
    IdentityPanel,
    PatientPanel,
    RecordsPanel,
    Visit,
    VitalsPanel,
    panel_keys,
)

REFRESH_SECONDS = 30

#: the panels each role gets, top to bottom (the banner sits above the scrolling body)
PANELS: dict[Role, tuple[type[PatientPanel], ...]] = {
    Role.NURSE: (IdentityPanel, VitalsPanel, AlertsPanel, RecordsPanel),
}
#: everyone else who may open a person (coaches: their participants)
DEFAULT_PANELS = (IdentityPanel, VitalsPanel, RecordsPanel)
ALL_PANELS = (AccessBanner, IdentityPanel, VitalsPanel, AlertsPanel, RecordsPanel)


class PatientScreen(AppScreen):
    AREA = N_("Patient")
    HELP_TEXT = N_(
        "One person's record: identity, latest measurements with a chart, alerts, conditions and "
        "notes. What the person has not shared with your organization says so, in grey. Under "
        "emergency access (break the glass) a red bar shows how long the access lasts; it is logged "
        "and reviewed."
    )
    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="patient.back", tooltip=N_("Back to the list")),
        Binding("r", "refresh", N_("Refresh"), id="patient.refresh", tooltip=N_("Reload from the server")),
        *panel_keys(ALL_PANELS),
    ]

    def __init__(self):
        super().__init__()
        self.visit: Visit | None = None
        #: the record the panels show (None until it arrives, and after a wipe)
        self.detail: PatientDetail | None = None
        self._refresher: Timer | None = None
        self._panels: list[PatientPanel] = []

    @property
    def person_id(self) -> str | None:
        return self.visit.person_id if self.visit is not None else None

    @property
    def panels(self) -> list[PatientPanel]:
        """The panels mounted for this role (none before the screen is)."""
        return self._panels

    def _panel(self, name: str) -> PatientPanel | None:
        return next((p for p in self._panels if p.NAME == name), None)

    def compose(self) -> ComposeResult:
        role = self.app.session.user.role
        yield Header()
        yield AccessBanner()
        with VerticalScroll(id="patient-body"):
            for panel in PANELS.get(role, DEFAULT_PANELS):
                yield panel()
        yield KeyFooter()

    # ------------------------------------------------------------------ the person

    def open(self, person_id: str, focus_loinc: str | None = None, focus_alert: int | None = None) -> None:
        """Show ``person_id`` (before the screen is pushed): nothing of the previous person stays.

        Opened from an alert: its measurement is charted and the alert keys act on that alert.
        """
        self.stop_loading()
        self.wipe()
        self.visit = Visit(person_id, focus_loinc, focus_alert)
        if self.is_mounted:
            self._start()

    def _start(self) -> None:
        for panel in self.panels:
            panel.open(self.visit)

    def on_mount(self) -> None:
        self._panels = list(self.query(PatientPanel).results(PatientPanel))
        if self.visit is not None:
            self._start()
        self._refresher = self.set_interval(REFRESH_SECONDS, self.load)

    def load(self) -> Worker | None:
        """Fetch the record again (the panels that depend on it follow)."""
        identity = self._panel(IdentityPanel.NAME)
        return identity.load() if identity is not None and self.person_id is not None else None

    @on(PatientPanel.RecordLoaded)
    def _record(self, event: PatientPanel.RecordLoaded) -> None:
        event.stop()
        if event.person_id != self.person_id:
            return
        first = self.detail is None
        self.detail = event.detail
        self.title = event.detail.label
        for panel in self.panels:
            panel.show_record(event.detail, first)

    @on(PatientPanel.RecordFailed)
    def _record_failed(self, event: PatientPanel.RecordFailed) -> None:
        event.stop()
        if event.person_id == self.person_id and self.detail is None:
            for panel in self.panels:
                panel.record_failed()

    @on(PatientPanel.Changed)
    def _changed(self, event: PatientPanel.Changed) -> None:
        event.stop()
        if event.person_id == self.person_id:
            for panel in self.panels:
                if panel is not event.source:
                    panel.data_changed()

    @on(PatientPanel.Stale)
    def _stale(self, event: PatientPanel.Stale) -> None:
        event.stop()
        if self.is_current:
            self.load()

    @on(PatientPanel.AccessEnded)
    def _access_ended(self, event: PatientPanel.AccessEnded) -> None:
        event.stop()
        if event.person_id == self.person_id:
            self.clear_and_close(event.text)

    def clear_and_close(self, text: str) -> None:
        """Access ended (consent withdrawn or expired, grant over): clear what was shown, then leave."""
        self.wipe()
        self.app.notify(text, title=_("Access ended"), severity="warning", timeout=8, markup=False)
        if self.app.screen is self:
            self.app.pop_screen()

    def stop_loading(self) -> None:
        """Cancel every panel's requests in flight (never an alert transition with a note)."""
        for panel in self.panels:
            panel.stop_loading()

    def wipe(self) -> None:
        """Forget the person: every panel, the title, the scroll position."""
        self.visit = None
        self.detail = None
        self.title = _("Patient")
        if not self.is_mounted:
            return
        for panel in self.panels:
            panel.wipe()
        self.query_one("#patient-body", VerticalScroll).scroll_home(animate=False)

    # ------------------------------------------------------------------ screen life

    def on_screen_suspend(self) -> None:
        """Covered by a dialog: stop refreshing. Left (popped): also forget the person."""
        if self._refresher is not None:
            self._refresher.pause()
        if self not in self.app.screen_stack:
            self.stop_loading()
            self.wipe()

    def on_screen_resume(self) -> None:
        if self._refresher is not None:
            self._refresher.resume()

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A panel's key is offered as that panel says; a panel this role lacks offers nothing."""
        if action == "panel":
            name, panel_action = parameters
            panel = self._panel(name)
            if panel is None:
                return False
            _namespace, inner, inner_parameters = parse(panel_action)
            return panel.check_action(inner, inner_parameters)
        return True

    async def action_panel(self, name: str, action: str) -> None:
        panel = self._panel(name)
        if panel is not None:
            await panel.run_action(action)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()
