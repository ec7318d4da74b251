"""The person's alerts (nurses): every alert in every state with its notes, and the alert keys
(``ALERT_KEYS``, the same as on the queue) acting on the selected one. Opened from an alert, that
alert is selected and the list is fetched at once; else when the record says vitals are shared.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from clinic_tui import labels
from clinic_tui.api.schemas import AlertItem, PatientAlerts, PatientDetail
from clinic_tui.domain.roles import Basis
from clinic_tui.i18n import _
from clinic_tui.views.alert_actions import ALERT_KEYS, KEYED_ACTIONS, AlertActions, state_text
from clinic_tui.views.format import local_time, plain, withheld
from clinic_tui.widgets.key_footer import key_hints
from clinic_tui.widgets.patient.base import PatientPanel, Visit


class AlertsPanel(AlertActions, PatientPanel):
    NAME = "alerts"
    LOADS = ("patient-alerts",)
    KEYS = ALERT_KEYS

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.alerts: dict[int, AlertItem] = {}
        #: this person's alerts are in (not merely none shown yet)
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(_("Alerts"), id="alerts-title", classes="section-title")
        yield DataTable(id="patient-alerts", cursor_type="row")
        yield Static("", id="alert-notes")

    def on_mount(self) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        table.add_column(_("Severity"), width=8)
        table.add_column(_("State"), width=19)
        table.add_column(_("Alert"), width=40)
        table.add_column(_("Opened"), width=17)
        hints = key_hints(self.app, self.KEYS)
        self.query_one("#alerts-title", Static).update(Text(_("Alerts") + (f"  ({hints})" if hints else "")))

    # ------------------------------------------------------------------ the person

    def open(self, visit: Visit) -> None:
        super().open(visit)
        if visit.from_alert:
            self.load_alerts()

    def show_record(self, d: PatientDetail, first: bool) -> None:
        self.access_basis = d.access_basis
        shared = "vitals" in d.shared
        self.query_one("#patient-alerts", DataTable).display = shared
        if not shared:
            self.alerts = {}
            self.loaded = True
            self.query_one("#patient-alerts", DataTable).clear()
            self.query_one("#alert-notes", Static).update(withheld())
            self.offer(self.answers())
        elif not (first and self.visit is not None and self.visit.from_alert):
            self.load_alerts()  # (opened from an alert, they were asked for with the record)

    def wipe(self) -> None:
        super().wipe()
        self.alerts = {}
        self.loaded = False
        self.access_basis = None
        if not self.is_mounted:
            return
        self.query_one("#patient-alerts", DataTable).clear()
        self.query_one("#alert-notes", Static).update("")

    @work(exclusive=True, group="patient-alerts", exit_on_error=False)
    async def load_alerts(self) -> None:
        from clinic_tui.api.client import Forbidden

        person_id = self.person_id
        if person_id is None:
            return
        try:
            alerts = await self.app.session.client.patient_alerts(person_id)
        except Forbidden:
            return  # the record's own load says why and closes the screen
        if person_id == self.person_id:
            self.show_alerts(alerts)

    def show_alerts(self, data: PatientAlerts) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        if not self.loaded and self.visit is not None and self.visit.focus_alert is not None:
            keep = str(self.visit.focus_alert)  # first load, opened from an alert: that one is selected
        else:
            keep = (
                table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                if table.row_count
                else None
            )
        self.alerts = {a.id: a for a in data.items}
        self.loaded = True
        notes = Text()
        with self.app.batch_update():
            table.clear()
            for a in data.items:
                table.add_row(
                    Text(labels.severity(a.severity), style="bold red" if a.severity == "high" else "yellow"),
                    plain(state_text(a)),
                    plain(labels.alert(a)),
                    plain(local_time(a.opened_at)),
                    key=str(a.id),
                )
                for ev in a.events:
                    if ev.note:
                        did = labels.state(ev.to_state)
                        if ev.recipient:
                            did = _("escalated to {recipient}").format(recipient=ev.recipient)
                        notes.append(f"{local_time(ev.at)}  {ev.by} {did}: ", style="dim")
                        notes.append(ev.note + "\n")
            if keep and keep in {str(k) for k in self.alerts}:
                table.move_cursor(row=table.get_row_index(keep))
        if not data.items:
            notes = Text(_("No alerts for this patient."), style="dim")
        elif not notes.plain:
            notes = Text(_("No notes yet."), style="dim")
        self.query_one("#alert-notes", Static).update(notes)
        self.offer(self.answers())

    @on(DataTable.RowHighlighted, "#patient-alerts")
    def _highlighted(self) -> None:
        if self.loaded:
            self.offer(self.answers())  # the keys follow the selected alert's state

    # ------------------------------------------------------------------ acting on the selected alert

    def selected_alert(self) -> AlertItem | None:
        table = self.query_one("#patient-alerts", DataTable)
        if not self.loaded or not table.row_count:
            return None
        return self.alerts.get(int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    #: what the record rests on (PatientDetail.access_basis); None until it has arrived
    access_basis: str | None = None

    def alert_key_state(self, action: str) -> bool | None:
        """Acting on alerts needs a consent naming the organization (the server's policy,
        ACT_ON_ALERT): under emergency access the keys are not offered at all (issue 13.10)."""
        if self.access_basis is not None and self.access_basis != Basis.CONSENT:
            return False
        return super().alert_key_state(action)

    def answers(self) -> dict[str, bool | None]:
        states = {f"alert:{action}": self.alert_key_state(action) for action in KEYED_ACTIONS}
        return {key: state for key, state in states.items() if state is not False}

    def on_view(self, alert: AlertItem) -> bool:
        return self.app.screen is self.screen and self.person_id == alert.person_id

    def alert_changed(self, alert: AlertItem | None) -> None:
        if self.person_id is None:
            return  # off view, emptied: nothing to refresh
        self.load_alerts()
        self.post_message(self.Changed(self.person_id, self))
