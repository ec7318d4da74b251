"""The report analyst's home: issue an employer's report for a closed year, read it with bars of
the published shares, see the reports issued so far, export one.

The screen shows only what the server published: a suppressed cell reads "– suppressed" (never 0,
never "fewer than 5": a cell hidden to protect another may hold many people), a table with too
few people says so. Shares are of a column's published total. Row and table labels are the
server's (English) labels of its report definition. A refused or failed request leaves the employer
and year as typed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer
from textual.widgets import DataTable, Header, Input, Static

from clinic_tui.api.schemas.reports import CellStatus, EmployerReport, IssuedReport, ReportTable, TableStatus
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import plain
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import TextPrompt
from clinic_tui.widgets.whoami import WhoAmI

ALL = "all"
BAR_WIDTH = 20
LABEL_WIDTH = 28
SUPPRESSED_STYLE = "italic yellow"


def _label(table: ReportTable, code: str, axis: str) -> str:
    items = table.rows if axis == "row" else table.columns
    for item in items:
        if item.code == code:
            return _("Total") if code == ALL else item.label
    return code


def _share(table: ReportTable, row: str, column: str) -> float | None:
    cell = table.cell(row, column)
    total = table.cell(ALL, column)
    if (
        cell is None
        or total is None
        or cell.status is not CellStatus.PUBLISHED
        or total.status is not CellStatus.PUBLISHED
        or not total.value
    ):
        return None
    return cell.value / total.value


def _bar(share: float) -> Text:
    full = round(share * BAR_WIDTH)
    return Text("█" * full + "·" * (BAR_WIDTH - full), style="cyan")


def _distribution(table: ReportTable) -> Text:
    """Counts and column shares per category (all, then each sex), a bar of the share of all;
    "–" is suppressed."""
    cell_width = 12
    out = Text()
    columns = [c.code for c in table.columns]
    out.append(" " * LABEL_WIDTH)
    for c in columns:
        out.append(f"{_label(table, c, 'column')[: cell_width - 1]:>{cell_width}}")
    out.append("\n")
    for r in table.rows:
        if r.code == ALL:
            continue
        out.append(f"{_label(table, r.code, 'row')[: LABEL_WIDTH - 1]:<{LABEL_WIDTH}}")
        for c in columns:
            cell = table.cell(r.code, c)
            if cell is None or cell.status is CellStatus.SUPPRESSED:
                out.append(Text(f"{'–':>{cell_width}}", style=SUPPRESSED_STYLE))
                continue
            share = _share(table, r.code, c)
            pct = f"{share * 100:.0f}%" if share is not None else ""
            out.append(f"{cell.value:>6} {pct:>4}".rjust(cell_width))
        share = _share(table, r.code, ALL)
        out.append("  ")
        out.append(_bar(share) if share is not None else Text(""))
        out.append("\n")
    out.append(f"{_('Total'):<{LABEL_WIDTH}}")
    for c in columns:
        cell = table.cell(ALL, c)
        if cell is None or cell.status is not CellStatus.PUBLISHED:
            out.append(Text(f"{'–':>{cell_width}}", style=SUPPRESSED_STYLE))
        else:
            out.append(f"{cell.value:>6}     ".rjust(cell_width))
    out.append("\n")
    if table.breakdown_dropped:
        out.append(_("Not broken down by sex: one sex has too few people in this table.") + "\n", style="dim")
    return out


def _grid(table: ReportTable, mean: bool) -> Text:
    """Sex by age band: counts (participation) or means with their n; "–" is suppressed."""
    width = 13 if mean else 8
    out = Text()
    columns = [c.code for c in table.columns]
    out.append(f"{'':<8}")
    for c in columns:
        out.append(f"{_label(table, c, 'column')[: width - 1]:>{width}}")
    out.append("\n")
    for r in table.rows:
        out.append(f"{_label(table, r.code, 'row')[:7]:<8}")
        for c in columns:
            cell = table.cell(r.code, c)
            if cell is None or cell.status is CellStatus.SUPPRESSED:
                out.append(Text(f"{'–':>{width}}", style=SUPPRESSED_STYLE))
            elif cell.status is CellStatus.EMPTY:
                out.append(f"{'·':>{width}}")
            elif mean:
                out.append(f"{cell.value:.{table.decimals}f} n={cell.n}".rjust(width))
            else:
                out.append(f"{cell.value:>{width}}")
        out.append("\n")
    return out


def render_report(report: EmployerReport) -> Text:
    """The whole report as text: each table with its counts, shares and bars; suppressed marked."""
    out = Text(no_wrap=True, overflow="ignore")
    out.append(
        _("{employer}, {period}: no number rests on fewer than {k} people.").format(
            employer=report.employer, period=report.period, k=report.min_cell
        )
        + "\n",
        style="bold",
    )
    out.append(
        _(
            "– suppressed: not shown, it rests on fewer than {k} people or would let such a number "
            "be worked out."
        ).format(k=report.min_cell)
        + "\n\n",
        style=SUPPRESSED_STYLE,
    )
    for table in report.tables:
        heading = table.label + (f" ({table.unit})" if table.unit else "")
        out.append(heading + "\n", style="bold underline")
        if table.source:
            out.append(_("Source: {source}").format(source=table.source) + "\n", style="dim")
        if table.status is TableStatus.TOO_FEW:
            out.append(_("Too few people in this table: nothing is shown.") + "\n\n", style=SUPPRESSED_STYLE)
            continue
        if table.kind == "distribution":
            out.append_text(_distribution(table))
        else:
            out.append_text(_grid(table, mean=table.kind == "mean"))
        if table.note:
            out.append(table.note + "\n", style="dim")
        out.append("\n")
    return out


class ReportsScreen(AppScreen):
    BINDINGS = [
        Binding(
            "ctrl+e",
            "export",
            N_("Export"),
            id="reports.export",
            tooltip=N_("Write the report on screen to a JSON file"),
            priority=True,
        ),
        Binding(
            "ctrl+l",
            "refresh",
            N_("Refresh"),
            id="reports.refresh",
            tooltip=N_("Reload the list of issued reports"),
        ),
    ]

    def __init__(self):
        super().__init__()
        self.current: IssuedReport | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        with Horizontal(id="report-form"):
            yield Input(placeholder=_("Employer"), id="employer", max_length=200)
            yield Input(
                value=str(date.today().year - 1),
                placeholder=_("Year"),
                id="period",
                max_length=4,
                type="integer",
            )
        yield Static(
            _(
                "Type the employer and a year that is over, then Enter. A report is final: asking "
                "again gives the same one."
            ),
            id="report-help",
        )
        with Horizontal(id="report-body"):
            yield DataTable(id="issued", cursor_type="row", zebra_stripes=True)
            with ScrollableContainer(id="report-view"):
                yield Static(_("No report open."), id="report")
        yield Static("", id="report-status")
        yield KeyFooter()

    DEFAULT_CSS = """
    ReportsScreen #report-form { height: 3; }
    ReportsScreen #employer { width: 1fr; }
    ReportsScreen #period { width: 12; }
    ReportsScreen #report-help { height: auto; color: $text-muted; }
    ReportsScreen #report-body { height: 1fr; }
    ReportsScreen #issued { width: 36; }
    ReportsScreen #report-view { width: 1fr; }
    ReportsScreen #report { width: auto; }
    ReportsScreen #report-status { height: auto; }
    """

    def on_mount(self) -> None:
        user = self.app.session.user
        self.title = _("Employer reports — {organization}").format(organization=user.organization_name)
        table = self.query_one("#issued", DataTable)
        table.add_column(_("Employer"), key="employer", width=14)
        table.add_column(_("Year"), key="year", width=4)
        table.add_column(_("Issued"), key="issued", width=10)
        self.query_one("#employer", Input).focus()
        self.load()

    @property
    def _api(self):
        from clinic_tui.api.reports import ReportsApi

        return ReportsApi(self.app.session.client)

    @work(exclusive=True, group="reports-list", exit_on_error=False)
    async def load(self) -> None:
        issued = await self._api.issued()
        table = self.query_one("#issued", DataTable)
        table.clear()
        for item in issued.items:
            table.add_row(
                plain(item.employer),
                plain(item.period),
                plain(item.issued_at.astimezone().date()),
                key=item.id,
            )

    def _status(self, text: str | Text, style: str = "") -> None:
        self.query_one("#report-status", Static).update(
            Text(text, style=style) if isinstance(text, str) else text
        )

    @on(Input.Submitted)
    def _submitted(self) -> None:
        employer = self.query_one("#employer", Input).value.strip()
        period_text = self.query_one("#period", Input).value.strip()
        if not employer:
            self._status(_("Type the employer's name."), "yellow")
            self.query_one("#employer", Input).focus()
            return
        if not period_text.isdigit() or not 2000 <= int(period_text) <= 2100:
            self._status(
                _("The year is a number such as {year}.").format(year=date.today().year - 1), "yellow"
            )
            self.query_one("#period", Input).focus()
            return
        self._status(_("Issuing…"))
        self.issue(employer, int(period_text))

    @work(exclusive=True, group="reports-issue", exit_on_error=False)
    async def issue(self, employer: str, period: int) -> None:
        """A refusal or a server that does not answer is shown here; what was typed stays."""
        from clinic_tui.api.client import ApiError, NotAuthenticated
        from clinic_tui.errors import describe

        try:
            issued = await self._api.issue(employer, period)
        except NotAuthenticated:
            raise
        except ApiError as exc:
            problem = describe(exc)
            self._status(f"{problem.title}: {problem.text}", "bold yellow")
            return
        self.show(issued)
        self._status(
            _("The report issued before for the same people (unchanged).")
            if issued.reused
            else _("Report issued.")
        )
        self.load()

    @work(exclusive=True, group="reports-open", exit_on_error=False)
    async def open_report(self, report_id: str) -> None:
        self.show(await self._api.one(report_id))

    def show(self, issued: IssuedReport) -> None:
        self.current = issued
        self.query_one("#report", Static).update(render_report(issued.report))
        self.query_one("#report-view", ScrollableContainer).scroll_home(animate=False)

    @on(DataTable.RowSelected, "#issued")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open_report(event.row_key.value)

    def action_refresh(self) -> None:
        self.load()

    def action_export(self, path: str = "", error: str = "") -> None:
        if self.current is None:
            self._status(_("Open or issue a report first."), "yellow")
            return
        r = self.current
        name = "".join(ch if ch.isalnum() else "-" for ch in r.employer).strip("-").lower()
        prompt = _("Write the report as JSON to this file:")
        if error:
            prompt = f"{error}\n{prompt}"

        def done(answer: str | None) -> None:
            if answer:
                self.export(answer)

        self.app.push_screen(
            TextPrompt(
                _("Export report"),
                prompt,
                max_length=1000,
                initial=path or f"employer-report-{name}-{r.period}.json",
            ),
            done,
        )

    def export(self, path: str) -> None:
        target = Path(path).expanduser()
        try:
            target.write_text(self.current.report.model_dump_json(indent=2), encoding="utf-8")
        except OSError as exc:
            self.action_export(path, _("Cannot write {path}: {error}").format(path=path, error=exc.strerror))
            return
        self._status(_("Written to {path}").format(path=str(target)))
