"""TrendChart: the one project widget that draws measurement series.

plotext (through textual-plotext) is hidden behind it, so the plotting backend can be swapped
without touching a screen. It takes plain data: points, thresholds, alert marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual.app import ComposeResult
from textual.widget import Widget
from textual_plotext import PlotextPlot

from clinic_tui.i18n import _
from clinic_tui.i18n.formats import day_month, month_year, number


@dataclass
class ChartData:
    title: str
    unit: str
    points: list[tuple[datetime, float]]
    #: (label, value) horizontal lines, e.g. the patient's alert thresholds
    thresholds: list[tuple[str, float]] = field(default_factory=list)
    #: (time, value) marks where alerts were raised
    alerts: list[tuple[datetime, float]] = field(default_factory=list)
    #: the right edge of the chart (usually "now") and its span in days
    end: datetime | None = None
    days: int = 30


class TrendChart(Widget):
    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.data: ChartData | None = None

    def compose(self) -> ComposeResult:
        yield PlotextPlot()

    @property
    def plot_width(self) -> int:
        """How many points are worth sending: about one per terminal column."""
        return max(40, self.size.width or 120)

    def show(self, data: ChartData | None) -> None:
        self.data = data
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        if data is None:
            plot.refresh()
            return
        end = data.end or (data.points[-1][0] if data.points else datetime.now().astimezone())

        def x_of(t: datetime) -> float:
            return -(end - t).total_seconds() / 86400.0

        plt.title(
            _("{title} ({unit}) · last {days} days").format(title=data.title, unit=data.unit, days=data.days)
        )
        plt.xlim(-data.days, 0)
        if data.points:
            xs = [x_of(t) for t, _ in data.points]
            ys = [v for _, v in data.points]
            plt.plot(xs, ys, marker="braille", color="cyan")
            lows = [v for v in ys] + [v for _, v in data.thresholds]
            span = (max(lows) - min(lows)) or 1.0
            low, high = min(lows) - span * 0.1, max(lows) + span * 0.1
            plt.ylim(low, high)
            y_ticks = [low + (high - low) * i / 4 for i in range(5)]
            plt.yticks(y_ticks, [number(v, digits=_y_digits(high - low)) for v in y_ticks])
        for label, value in data.thresholds:
            plt.hline(value, "red" if "high" in label or "grade" in label else "orange")
        if data.alerts:
            plt.scatter(
                [x_of(t) for t, _ in data.alerts], [v for _, v in data.alerts], marker="x", color="red"
            )
        ticks = _day_ticks(data.days)
        plt.xticks(ticks, [_tick_label(end, d, data.days) for d in ticks])
        plot.refresh()


def _day_ticks(days: int) -> list[float]:
    step = {7: 1, 30: 5, 90: 15}.get(days, 60 if days > 90 else max(1, days // 6))
    return [float(-d) for d in range(days, -1, -step)]


def _y_digits(span: float) -> int:
    """Decimals worth showing on the value axis: none for steps, one for a weight, two for a small span."""
    return 0 if span >= 50 else 1 if span >= 2 else 2


def _tick_label(end: datetime, offset_days: float, days: int = 30) -> str:
    """A day on the time axis in the UI's language; on axes longer than 90 days, month and year."""
    from datetime import timedelta

    moment = end + timedelta(days=offset_days)
    return month_year(moment) if days > 90 else day_month(moment)
