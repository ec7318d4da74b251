"""The person's measurements: the latest values and a trend chart, with keys to step through the
measurements and to change the chart's range. The chart's series is fetched here; opened from an
alert, at once (alongside the record), else when the record says vitals are shared.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from clinic_tui import labels
from clinic_tui.api.schemas import PatientDetail
from clinic_tui.i18n import N_, _
from clinic_tui.i18n.formats import number
from clinic_tui.views.format import local_time, plain, withheld
from clinic_tui.widgets.key_footer import key_hints
from clinic_tui.widgets.patient.base import PatientPanel, Visit
from clinic_tui.widgets.trend_chart import ChartData, TrendChart

#: range key -> (the API's range, days charted)
RANGES = {"1": ("7d", 7), "2": ("30d", 30), "3": ("90d", 90), "4": ("1y", 365)}
DEFAULT_RANGE = "2"
CHART_ACTIONS = ("next_measurement", "prev_measurement", *(f"range:{key}" for key in RANGES))


class VitalsPanel(PatientPanel):
    NAME = "vitals"
    LOADS = ("patient-chart",)
    KEYS = (
        Binding(
            "m",
            "next_measurement",
            N_("Next chart"),
            id="chart.next",
            tooltip=N_("Chart the next measurement"),
        ),
        Binding(
            "M",
            "prev_measurement",
            N_("Prev chart"),
            id="chart.prev",
            tooltip=N_("Chart the previous measurement"),
            show=False,
        ),
        Binding("1", "range('1')", N_("7d"), id="chart.7d", tooltip=N_("Chart the last 7 days")),
        Binding("2", "range('2')", N_("30d"), id="chart.30d", tooltip=N_("Chart the last 30 days")),
        Binding("3", "range('3')", N_("90d"), id="chart.90d", tooltip=N_("Chart the last 90 days")),
        Binding("4", "range('4')", N_("1y"), id="chart.1y", tooltip=N_("Chart the last year")),
    )

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.detail: PatientDetail | None = None
        self.focus_loinc: str | None = None
        self.range_key = DEFAULT_RANGE
        #: the person whose series the chart shows
        self.charted: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(_("Latest measurements"), classes="section-title")
        yield DataTable(id="latest", cursor_type="row", show_cursor=False)
        yield Static("", id="latest-note")
        yield Static(_("Trend"), id="trend-title", classes="section-title")
        yield TrendChart(id="trend")
        yield Static("", id="trend-note")

    def on_mount(self) -> None:
        table = self.query_one("#latest", DataTable)
        table.add_columns(_("Measurement"), _("Value"), _("Unit"), _("Measured"))
        hints = key_hints(self.app, self.KEYS)
        self.query_one("#trend-title", Static).update(Text(_("Trend") + (f"  ({hints})" if hints else "")))

    # ------------------------------------------------------------------ the person

    def open(self, visit: Visit) -> None:
        super().open(visit)
        self.focus_loinc = visit.focus_loinc
        self.range_key = DEFAULT_RANGE
        if visit.from_alert:
            self.load_chart(visit.focus_loinc)

    def show_record(self, d: PatientDetail, first: bool) -> None:
        self.detail = d
        table = self.query_one("#latest", DataTable)
        table.clear()
        note = self.query_one("#latest-note", Static)
        if d.latest is not None:
            for v in d.latest:
                table.add_row(
                    plain(labels.measurement(v.loinc, v.display)),
                    plain(number(v.value)),
                    plain(labels.unit(v.unit)),
                    plain(local_time(v.effective_at)),
                )
            note.update("" if d.latest else _("No measurements yet."))
            table.display = True
        else:
            table.display = False
            note.update(withheld())
        shared = "vitals" in d.shared
        self.query_one(TrendChart).display = shared
        if not shared:
            self.query_one("#trend-note", Static).update(withheld())
        elif not (first and self.visit is not None and self.visit.from_alert):
            self.load_chart()  # (opened from an alert, the chart was asked for with the record)
        self.offer(self.answers())

    def record_failed(self) -> None:
        self.offer(self.answers())

    def data_changed(self) -> None:
        if self.person_id is not None and (self.detail is not None or self.charted == self.person_id):
            self.load_chart(None if self.detail is not None else self.focus_loinc)

    def wipe(self) -> None:
        super().wipe()
        self.detail = None
        self.focus_loinc = None
        self.charted = None
        if not self.is_mounted:
            return
        self.query_one("#latest", DataTable).clear()
        for widget_id in ("#latest-note", "#trend-note"):
            self.query_one(widget_id, Static).update("")
        self.query_one(TrendChart).show(None)

    # ------------------------------------------------------------------ the chart

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
            self.query_one("#trend-note", Static).update(_("No measurements to chart."))
            return
        range_name, days = RANGES[self.range_key]
        try:
            series = await self.app.session.client.observation_series(
                person_id, loinc, range_=range_name, points=chart.plot_width
            )
        except Forbidden:
            return  # the record's own load says why and closes the screen
        if person_id != self.person_id:
            return
        chart.show(
            ChartData(
                title=labels.measurement(series.loinc, series.display),
                unit=labels.unit(series.unit),
                points=[(p.at, p.value) for p in series.points],
                thresholds=[(labels.threshold_line(t.key, t.label), t.value) for t in series.thresholds],
                alerts=[(a.last_seen_at, a.value) for a in series.alerts if a.value is not None],
                end=series.end,
                days=days,
            )
        )
        self.charted = person_id
        self.query_one("#trend-note", Static).update(Text(self._chart_note(series), style="dim"))
        if self.detail is None:
            self.offer(self.answers())  # opened from an alert: the chart is here before the record

    @staticmethod
    def _chart_note(series) -> str:
        shown = len(series.points)
        note = _("{total} readings in range, {shown} drawn").format(total=series.total, shown=shown)
        if shown < series.total:
            note += " " + _("(downsampled on the server)")
        if series.thresholds:
            own = " " + _("(set for this patient)")
            lines = ", ".join(
                f"{labels.threshold_line(t.key, t.label)} {number(t.value)}" + (own if t.overridden else "")
                for t in series.thresholds
            )
            note += "; " + _("lines: {lines}").format(lines=lines)
        return note

    # ------------------------------------------------------------------ keys

    def answers(self) -> dict[str, bool | None]:
        shared = self.detail is not None and "vitals" in self.detail.shared
        charted = self.person_id is not None and self.charted == self.person_id
        return dict.fromkeys(CHART_ACTIONS, True) if shared or charted else {}

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
