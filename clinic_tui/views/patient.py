"""One person's record, as far as their consent allows; withheld sections say so."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from clinic_tui.api.schemas import AlertItem, PatientAlerts, PatientDetail
from clinic_tui.views.alert_actions import AlertActions
from clinic_tui.views.format import NOT_SHARED, local_time, personnummer_display, plain, withheld
from clinic_tui.widgets.trend_chart import ChartData, TrendChart

REFRESH_SECONDS = 30


RANGES = {"1": ("7d", 7), "2": ("30d", 30), "3": ("90d", 90), "4": ("1y", 365)}
ALERT_ACTIVE = {"open", "acknowledged", "snoozed"}


class PatientScreen(AlertActions, Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="patient.back", tooltip="Back to the list"),
        Binding("r", "refresh", "Refresh", id="patient.refresh", tooltip="Reload from the server"),
        Binding(
            "m", "next_measurement", "Next chart", id="patient.next", tooltip="Chart the next measurement"
        ),
        Binding(
            "M",
            "prev_measurement",
            "Prev chart",
            id="patient.prev",
            tooltip="Chart the previous measurement",
            show=False,
        ),
        Binding("1", "range('1')", "7d", id="patient.range7", tooltip="Chart the last 7 days"),
        Binding("2", "range('2')", "30d", id="patient.range30", tooltip="Chart the last 30 days"),
        Binding("3", "range('3')", "90d", id="patient.range90", tooltip="Chart the last 90 days"),
        Binding("4", "range('4')", "1y", id="patient.range365", tooltip="Chart the last year"),
        Binding(
            "a", "alert('acknowledge')", "Ack", id="patient.ack", tooltip="Acknowledge the selected alert"
        ),
        Binding(
            "x", "alert('resolve')", "Resolve", id="patient.resolve", tooltip="Resolve the selected alert"
        ),
        Binding(
            "e", "alert('escalate')", "Escalate", id="patient.escalate", tooltip="Escalate the selected alert"
        ),
        Binding("s", "alert('snooze')", "Snooze", id="patient.snooze", tooltip="Snooze the selected alert"),
    ]

    def __init__(self, person_id: str, focus_loinc: str | None = None):
        super().__init__()
        self.person_id = person_id
        self.detail: PatientDetail | None = None
        self.focus_loinc = focus_loinc
        self.range_key = "2"
        self.alerts: dict[int, AlertItem] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="access-banner", classes="hidden")
        with VerticalScroll(id="patient-body"):
            yield Static("Loading…", id="identity")
            yield Static("Contact", classes="section-title")
            yield Static("", id="contact")
            yield Static("Occupation", classes="section-title")
            yield Static("", id="occupation")
            yield Static("Conditions", classes="section-title")
            yield Static("", id="conditions")
            yield Static("Latest measurements", classes="section-title")
            yield DataTable(id="latest", cursor_type="row", show_cursor=False)
            yield Static("", id="latest-note")
            yield Static(
                "Trend  (m: next measurement · 1 7d · 2 30d · 3 90d · 4 1y)", classes="section-title"
            )
            yield TrendChart(id="trend")
            yield Static("", id="trend-note")
            yield Static(
                "Alerts  (a acknowledge · x resolve · e escalate · s snooze)", classes="section-title"
            )
            yield DataTable(id="patient-alerts", cursor_type="row")
            yield Static("", id="alert-notes")
            yield Static("Medications, history, goals", classes="section-title")
            yield Static("", id="records")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#latest", DataTable)
        table.add_columns("Measurement", "Value", "Unit", "Measured")
        alerts = self.query_one("#patient-alerts", DataTable)
        alerts.add_column("Severity", width=8)
        alerts.add_column("State", width=13)
        alerts.add_column("Alert", width=46)
        alerts.add_column("Opened", width=17)
        self.load()
        self.set_interval(REFRESH_SECONDS, self.load)
        self.set_interval(15, self.update_banner)

    @work(exclusive=True, group="patient", exit_on_error=False)
    async def load(self) -> None:
        from clinic_tui.api.client import Forbidden

        first = self.detail is None
        early = first and self.focus_loinc is not None and self.is_nurse
        if early:
            # opened from an alert: its chart and alerts are asked for alongside the record
            self.load_chart(self.focus_loinc)
            self.load_alerts()
        try:
            detail = await self.app.client.patient(self.person_id)
        except Forbidden as exc:
            self.clear_and_close(exc.message)
            return
        self.show(detail)
        if "vitals" in detail.shared and not early:
            self.load_chart()
            if self.is_nurse:
                self.load_alerts()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The footer never offers what does not apply: alert keys are for nurses, charts need vitals."""
        if action == "alert":
            return self.is_nurse and bool(self.alerts)
        if action in ("range", "next_measurement", "prev_measurement"):
            return self.detail is not None and "vitals" in self.detail.shared
        return True

    @property
    def is_nurse(self) -> bool:
        return self.app.client.user.role == "nurse"

    @property
    def chart_loinc(self) -> str | None:
        if not self.detail or not self.detail.latest:
            return None
        codes = [v.loinc for v in self.detail.latest]
        if self.focus_loinc not in codes:
            self.focus_loinc = codes[0]
        return self.focus_loinc

    @work(exclusive=True, group="patient-chart", exit_on_error=False)
    async def load_chart(self, loinc: str | None = None) -> None:
        from clinic_tui.api.client import Forbidden

        loinc = loinc or self.chart_loinc
        chart = self.query_one(TrendChart)
        if loinc is None:
            chart.show(None)
            self.query_one("#trend-note", Static).update("No measurements to chart.")
            return
        range_name, days = RANGES[self.range_key]
        try:
            series = await self.app.client.observation_series(
                self.person_id, loinc, range_=range_name, points=chart.plot_width
            )
        except Forbidden:
            return  # the record's own load says why and closes the screen
        chart.show(
            ChartData(
                title=series.display,
                unit=series.unit,
                points=[(p.at, p.value) for p in series.points],
                thresholds=[(t.label, t.value) for t in series.thresholds],
                alerts=[(a.last_seen_at, a.value) for a in series.alerts if a.value is not None],
                end=series.end,
                days=days,
            )
        )
        shown = len(series.points)
        self.query_one("#trend-note", Static).update(
            Text(
                f"{series.total} readings in range, {shown} drawn"
                + (" (downsampled on the server)" if shown < series.total else "")
                + "; lines: "
                + ", ".join(
                    f"{t.label} {t.value:g}" + (" (set for this patient)" if t.overridden else "")
                    for t in series.thresholds
                ),
                style="dim",
            )
        )

    @work(exclusive=True, group="patient-alerts", exit_on_error=False)
    async def load_alerts(self) -> None:
        from clinic_tui.api.client import Forbidden

        try:
            alerts = await self.app.client.patient_alerts(self.person_id)
        except Forbidden:
            return  # the record's own load says why and closes the screen
        self.show_alerts(alerts)

    def show_alerts(self, data: PatientAlerts) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        keep = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        )
        self.alerts = {a.id: a for a in data.items}
        self.refresh_bindings()
        notes = Text()
        with self.app.batch_update():
            table.clear()
            for a in data.items:
                table.add_row(
                    Text(a.severity, style="bold red" if a.severity == "high" else "yellow"),
                    plain(a.state),
                    plain(a.message),
                    plain(local_time(a.opened_at)),
                    key=str(a.id),
                )
                for ev in a.events:
                    if ev.note:
                        notes.append(f"{local_time(ev.at)}  {ev.by} {ev.to_state}: ", style="dim")
                        notes.append(ev.note + "\n")
            if keep and keep in {str(k) for k in self.alerts}:
                table.move_cursor(row=table.get_row_index(keep))
        self.query_one("#alert-notes", Static).update(
            notes if notes.plain else Text("No notes yet.", style="dim")
        )
        if not data.items:
            self.query_one("#alert-notes", Static).update(Text("No alerts for this patient.", style="dim"))

    def alert_changed(self, alert: AlertItem | None) -> None:
        self.load_alerts()
        self.load_chart()

    def action_alert(self, action: str) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        if not table.row_count:
            self.app.notify("This patient has no alerts to act on.", severity="warning")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        alert = self.alerts.get(int(key))
        if alert is not None:
            self.act(alert, action)

    def action_range(self, key: str) -> None:
        self.range_key = key
        self.load_chart()

    def _step_measurement(self, step: int) -> None:
        if not self.detail or not self.detail.latest:
            return
        codes = [v.loinc for v in self.detail.latest]
        current = codes.index(self.chart_loinc)
        self.focus_loinc = codes[(current + step) % len(codes)]
        self.load_chart()

    def action_next_measurement(self) -> None:
        self._step_measurement(1)

    def action_prev_measurement(self) -> None:
        self._step_measurement(-1)

    def clear_and_close(self, message: str) -> None:
        """Access ended (consent withdrawn or expired, grant over): clear what was shown, then leave."""
        self.detail = None
        for widget_id in (
            "#identity",
            "#contact",
            "#occupation",
            "#conditions",
            "#records",
            "#latest-note",
            "#trend-note",
            "#alert-notes",
        ):
            self.query_one(widget_id, Static).update("")
        self.query_one("#latest", DataTable).clear()
        self.query_one("#patient-alerts", DataTable).clear()
        self.query_one(TrendChart).show(None)
        self.alerts = {}
        self.app.notify(message, title="Access ended", severity="warning", timeout=8)
        if self.app.screen is self:
            self.app.pop_screen()

    def show(self, d: PatientDetail) -> None:
        self.detail = d
        self.refresh_bindings()
        shared = set(d.shared)
        self.title = d.label
        self.update_banner()

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

        if d.occupation is not None:
            o = d.occupation
            self.query_one("#occupation", Static).update(
                plain(" · ".join(x for x in (o.job_title, o.employer) if x))
            )
        else:
            self.query_one("#occupation", Static).update(withheld())

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
        vitals = "vitals" in shared
        self.query_one(TrendChart).display = vitals
        self.query_one("#patient-alerts", DataTable).display = vitals and self.is_nurse
        if not vitals:
            self.query_one("#trend-note", Static).update(withheld())
            self.query_one("#alert-notes", Static).update(withheld())

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

    def update_banner(self) -> None:
        """Emergency access shows how long it has left; when it runs out the next load closes the record."""
        banner = self.query_one("#access-banner", Static)
        d = self.detail
        if d is None or d.access_basis != "break_glass" or d.break_glass_until is None:
            banner.add_class("hidden")
            return
        left = d.break_glass_until - datetime.now(UTC)
        minutes = max(0, int(left.total_seconds() // 60))
        banner.update(
            Text(
                f"EMERGENCY ACCESS (break-the-glass) · {minutes} min left · "
                f"ends {local_time(d.break_glass_until, False)} · logged and reviewed",
                style="bold",
            )
        )
        banner.remove_class("hidden")
        if left.total_seconds() <= 0:
            self.load()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()
