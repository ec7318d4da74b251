"""One person's record, as far as their consent allows; withheld sections say so.

The app keeps one PatientScreen and points it at each person it opens (``ClinicApp.open_patient``):
building the screen (two tables, the chart, ~20 statics and a footer of 17 keys) took longer than
fetching the record, and each new screen left ~15,000 objects for the garbage collector. ``open``
wipes everything shown of the previous person before the screen is shown again, and leaving the
screen wipes it too, so no one's data lingers in a screen that is not on view.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Header, Static

from clinic_tui.api.schemas import AlertItem, PatientAlerts, PatientDetail
from clinic_tui.views.alert_actions import AlertActions
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import NOT_SHARED, local_time, personnummer_display, plain, withheld
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.trend_chart import ChartData, TrendChart

REFRESH_SECONDS = 30


RANGES = {"1": ("7d", 7), "2": ("30d", 30), "3": ("90d", 90), "4": ("1y", 365)}
ALERT_ACTIVE = {"open", "acknowledged", "snoozed"}
CHART_ACTIONS = ("range", "next_measurement", "prev_measurement")


class PatientScreen(AlertActions, AppScreen):
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

    def __init__(self):
        super().__init__()
        self.person_id: str | None = None
        self.detail: PatientDetail | None = None
        self.focus_loinc: str | None = None
        self.focus_alert: int | None = None
        self.range_key = "2"
        self.alerts: dict[int, AlertItem] = {}
        self._refreshers: list[Timer] = []
        #: what the footer offers now (see check_action); None before the first record
        self._offered: dict[str, bool] | None = None
        self._alerts_loaded = False

    def open(self, person_id: str, focus_loinc: str | None = None, focus_alert: int | None = None) -> None:
        """Show ``person_id`` (before the screen is pushed): nothing of the previous person stays.

        Opened from an alert: its measurement is charted and the alert keys act on that alert.
        """
        self.stop_loading()
        self.wipe()
        self.person_id = person_id
        self.focus_loinc = focus_loinc
        self.focus_alert = focus_alert
        self.range_key = "2"
        if self.is_mounted:
            self._start()

    def _start(self) -> None:
        """Ask for the record; opened from an alert, ask for its chart and the alerts at once too."""
        if self.focus_loinc is not None and self.is_nurse:
            self.load_chart(self.focus_loinc)
            self.load_alerts()
            self.load(follow=False)
        else:
            self.load()

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
                "Alerts  (a acknowledge · x resolve · e escalate · s snooze)",
                id="alerts-title",
                classes="section-title nurse-only",
            )
            yield DataTable(id="patient-alerts", cursor_type="row", classes="nurse-only")
            yield Static("", id="alert-notes", classes="nurse-only")
            yield Static("Medications, history, goals", classes="section-title")
            yield Static("", id="records")
        yield KeyFooter()

    def on_mount(self) -> None:
        # alerts are the nurses' work: a coach's participant has none, and no keys act on them
        for widget in self.query(".nurse-only"):
            widget.display = self.is_nurse
        table = self.query_one("#latest", DataTable)
        table.add_columns("Measurement", "Value", "Unit", "Measured")
        alerts = self.query_one("#patient-alerts", DataTable)
        alerts.add_column("Severity", width=8)
        alerts.add_column("State", width=13)
        alerts.add_column("Alert", width=46)
        alerts.add_column("Opened", width=17)
        if self.person_id is not None:
            self._start()
        self._refreshers = [
            self.set_interval(REFRESH_SECONDS, self.load),
            self.set_interval(15, self.update_banner),
        ]

    def on_screen_suspend(self) -> None:
        """Covered by a dialog: stop refreshing. Left (popped): also forget the person."""
        for timer in self._refreshers:
            timer.pause()
        if self not in self.app.screen_stack:
            self.stop_loading()
            self.wipe()

    def on_screen_resume(self) -> None:
        for timer in self._refreshers:
            timer.resume()

    @work(exclusive=True, group="patient", exit_on_error=False)
    async def load(self, follow: bool = True) -> None:
        """The record; then (``follow``) the chart and the alerts, which need to know it is shared."""
        from clinic_tui.api.client import Forbidden

        person_id = self.person_id
        if person_id is None:
            return
        try:
            detail = await self.app.client.patient(person_id)
        except Forbidden as exc:
            if person_id == self.person_id:
                self.clear_and_close(exc.message)
            return
        except Exception:
            self._load_failed(person_id)
            raise  # the app's one error handler says what went wrong
        if person_id != self.person_id:
            return  # the screen moved on to someone else meanwhile
        self.show(detail)
        if "vitals" in detail.shared and follow:
            self.load_chart()
            if self.is_nurse:
                self.load_alerts()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The footer offers what applies: alert keys to nurses when there are alerts, chart keys
        when vitals are shared. While a person's record and alerts are still loading it keeps
        what it offered before (so it is not rebuilt twice per open); the actions themselves
        check again and do nothing, or say so, until the data is in."""
        if action in ("alert", *CHART_ACTIONS):
            answers = self._answers() if self._settled or self._offered is None else self._offered
            return answers["alert" if action == "alert" else "chart"]
        return True

    def _answers(self) -> dict[str, bool]:
        vitals = self.detail is not None and "vitals" in self.detail.shared
        return {"alert": self.is_nurse and bool(self.alerts), "chart": vitals}

    @property
    def _settled(self) -> bool:
        """The record is in, and so are the alerts when they matter."""
        if self.detail is None:
            return False
        return not ("vitals" in self.detail.shared and self.is_nurse and not self._alerts_loaded)

    @property
    def is_nurse(self) -> bool:
        user = self.app.client.user if self.app.client is not None else None
        return user is not None and user.role == "nurse"

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

        person_id = self.person_id
        loinc = loinc or self.chart_loinc
        chart = self.query_one(TrendChart)
        if person_id is None:
            return
        if loinc is None:
            chart.show(None)
            self.query_one("#trend-note", Static).update("No measurements to chart.")
            return
        range_name, days = RANGES[self.range_key]
        try:
            series = await self.app.client.observation_series(
                person_id, loinc, range_=range_name, points=chart.plot_width
            )
        except Forbidden:
            return  # the record's own load says why and closes the screen
        if person_id != self.person_id:
            return
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
                + (
                    "; lines: "
                    + ", ".join(
                        f"{t.label} {t.value:g}" + (" (set for this patient)" if t.overridden else "")
                        for t in series.thresholds
                    )
                    if series.thresholds
                    else ""
                ),
                style="dim",
            )
        )

    @work(exclusive=True, group="patient-alerts", exit_on_error=False)
    async def load_alerts(self) -> None:
        from clinic_tui.api.client import Forbidden

        person_id = self.person_id
        if person_id is None:
            return
        try:
            alerts = await self.app.client.patient_alerts(person_id)
        except Forbidden:
            return  # the record's own load says why and closes the screen
        except Exception:
            self._load_failed(person_id)
            raise
        if person_id != self.person_id:
            return
        self.show_alerts(alerts)

    def show_alerts(self, data: PatientAlerts) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        if not self._alerts_loaded and self.focus_alert is not None:
            keep = str(self.focus_alert)  # first load, opened from an alert: that one is selected
        else:
            keep = (
                table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                if table.row_count
                else None
            )
        self.alerts = {a.id: a for a in data.items}
        self._alerts_loaded = True
        self._footer_changed()
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

    def on_view(self, alert: AlertItem) -> bool:
        return self.app.screen is self and self.person_id == alert.person_id

    def alert_changed(self, alert: AlertItem | None) -> None:
        if self.person_id is None:
            return  # off view, emptied: nothing to refresh
        self.load_alerts()
        self.load_chart()

    def action_alert(self, action: str) -> None:
        table = self.query_one("#patient-alerts", DataTable)
        if not self._alerts_loaded:
            self.app.notify("This patient's alerts are still loading.", severity="warning", timeout=3)
            return
        if not table.row_count:
            self.app.notify("This patient has no alerts to act on.", severity="warning")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        alert = self.alerts.get(int(key))
        if alert is not None:
            self.act(alert, action)

    def action_range(self, key: str) -> None:
        self.range_key = key
        if self.detail is None and self.focus_loinc is None:
            return  # the record's own load charts it, in this range
        self.load_chart(None if self.detail is not None else self.focus_loinc)

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
        self.wipe()
        self.app.notify(message, title="Access ended", severity="warning", timeout=8)
        if self.app.screen is self:
            self.app.pop_screen()

    def stop_loading(self) -> None:
        """Cancel the record, chart and alert requests in flight (never a transition with a note)."""
        for group in ("patient", "patient-chart", "patient-alerts"):
            self.workers.cancel_group(self, group)

    def wipe(self) -> None:
        """Forget the person: every field, table, chart, note and the emergency banner."""
        self.person_id = None
        self.focus_alert = None
        self.detail = None
        self.alerts = {}
        self._alerts_loaded = False
        self.title = "Patient"
        if not self.is_mounted:
            return
        self.query_one("#identity", Static).update("Loading…")
        for widget_id in (
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
        self.query_one("#access-banner", Static).add_class("hidden")
        self.query_one("#patient-body", VerticalScroll).scroll_home(animate=False)

    def _load_failed(self, person_id: str) -> None:
        """A load failed (server unreachable, an error): stop offering what the previous person's
        data offered; the footer shows what this person's data, so far, allows."""
        if person_id == self.person_id and not self._settled and self._offered is not None:
            self._offered = None
            self.refresh_bindings()

    def _footer_changed(self) -> None:
        """Once the loads that decide it are in, tell the footer what applies, if that changed."""
        if not self._settled:
            return
        answers = self._answers()
        if answers != self._offered:
            self._offered = answers
            self.refresh_bindings()

    def show(self, d: PatientDetail) -> None:
        self.detail = d
        self._footer_changed()
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
