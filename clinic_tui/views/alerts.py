"""The alert queue: the nurse's home. Ordered by severity, then age; updates itself.

Paged at the API (keyset): the table holds the pages loaded so far, never the whole queue, and
more are fetched as the cursor nears the end. Live updates are merged by alert id inside one
batch update, and the cursor stays on the alert it was on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from clinic_tui.api.schemas import AlertCounts, AlertItem
from clinic_tui.views.alert_actions import AlertActions
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import age_text
from clinic_tui.widgets.filter_box import FilterBox
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.row_table import Cell, Column, Row, RowTable
from clinic_tui.widgets.whoami import WhoAmI

POLL_SECONDS = 5
#: a screenful and a half; more pages load as the cursor nears the end
PAGE = 60
SEVERITY_STYLE = {"high": "bold white on red", "medium": "bold black on yellow", "low": "black on grey70"}
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
ACTIVE = {"open", "acknowledged"}
COLUMNS = (
    Column("Sev", 6),
    Column("Patient", 24),
    Column("Alert", None, min_width=30),  # takes the width the others leave
    Column("Value", 14),
    Column("Age", 6),
    Column("State", 8),
)


def sort_key(a: AlertItem):
    return (SEVERITY_RANK[a.severity], a.opened_at, a.id)


class AlertQueueScreen(AlertActions, AppScreen):
    BINDINGS = [
        Binding("a", "acknowledge", "Acknowledge", id="alerts.acknowledge", tooltip="Acknowledge the alert"),
        Binding("x", "resolve", "Resolve", id="alerts.resolve", tooltip="Resolve (a note is required)"),
        Binding("e", "escalate", "Escalate", id="alerts.escalate", tooltip="Escalate (a note is required)"),
        Binding("s", "snooze", "Snooze", id="alerts.snooze", tooltip="Hide the alert until a time"),
        Binding("o", "open_patient", "Patient", id="alerts.open", tooltip="Open the patient of this alert"),
        Binding(
            "slash", "filter", "Filter", id="alerts.filter", tooltip="Filter by patient, rule or message"
        ),
        Binding("escape", "clear_filter", "Clear", id="alerts.clear", tooltip="Clear the filter", show=False),
        Binding("p", "patients", "Patients", id="alerts.patients", tooltip="All your patients"),
        Binding("r", "refresh", "Refresh", id="alerts.refresh", tooltip="Reload the queue"),
    ]

    def __init__(self):
        super().__init__()
        self.alerts: dict[int, AlertItem] = {}
        self.next_cursor: str | None = None
        self.since: datetime | None = None
        self.counts = AlertCounts()
        self.loading_more = False
        #: what the table shows, by row key (to keep the cursor's place when its alert leaves)
        self.shown: dict[str, AlertItem] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield Static("", id="alert-counts")
        yield FilterBox("Filter: patient, rule, message (Esc clears)")
        yield RowTable(COLUMNS, id="alerts")
        yield Static("Loading…", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.client.user
        self.title = f"Alerts — {user.organization_name}"
        self.query_one(RowTable).focus()
        self.reload()
        self.set_interval(POLL_SECONDS, self.poll)

    # ------------------------------------------------------------------ data

    @property
    def filter_text(self) -> str | None:
        return self.query_one("#filter", Input).value.strip() or None

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def reload(self) -> None:
        page = await self.app.client.alerts(state="active", q=self.filter_text, limit=PAGE)
        self.alerts = {a.id: a for a in page.items}
        self.next_cursor = page.next_cursor
        self.since = page.server_time
        self.counts = page.counts
        self.render_rows()

    @work(exclusive=True, group="alerts-more", exit_on_error=False)
    async def load_more(self) -> None:
        if not self.next_cursor:
            return
        self.loading_more = True
        try:
            page = await self.app.client.alerts(
                state="active", q=self.filter_text, after=self.next_cursor, limit=PAGE
            )
        finally:
            self.loading_more = False
        for a in page.items:
            self.alerts[a.id] = a
        self.next_cursor = page.next_cursor
        self.counts = page.counts
        self.render_rows()

    @work(exclusive=True, group="alerts-poll", exit_on_error=False)
    async def poll(self) -> None:
        if self.since is None:
            return
        changes = await self.app.client.alert_changes(self.since)
        self.since = changes.next_since
        self.counts = changes.counts
        if changes.truncated:
            self.reload()
            return
        self.merge(changes.items)

    def merge(self, items: list[AlertItem]) -> None:
        """Apply changed alerts by id: drop closed ones, update or add active ones."""
        needle = (self.filter_text or "").lower()
        last = max(self.alerts.values(), key=sort_key) if self.alerts and self.next_cursor else None
        for a in items:
            if a.state not in ACTIVE:
                self.alerts.pop(a.id, None)
                continue
            if needle and needle not in f"{a.label} {a.rule_id} {a.message}".lower():
                self.alerts.pop(a.id, None)
                continue
            # beyond the loaded pages: it will arrive with its page
            if last is not None and a.id not in self.alerts and sort_key(a) > sort_key(last):
                continue
            self.alerts[a.id] = a
        self.render_rows()

    def cells(self, a: AlertItem, now: datetime) -> tuple[Cell, ...]:
        value = f"{a.value:g} {a.unit or ''}".strip() if a.value is not None else ""
        return (
            Cell(a.severity.upper(), SEVERITY_STYLE[a.severity]),
            Cell(a.label),
            Cell(a.message),
            Cell(value),
            Cell(age_text(a.opened_at, now)),
            Cell(a.state if a.state != "acknowledged" else "ack'd"),
        )

    def render_rows(self) -> None:
        """Show the loaded alerts in queue order, keeping the cursor on the alert it was on.

        When that alert has left (resolved, or outside a new filter), the cursor stays at its
        place in the order: on the alert that now follows it.
        """
        table = self.query_one(RowTable)
        key = table.cursor_key
        before = self.shown.get(key) if key is not None else None
        now = datetime.now(UTC)
        ordered = sorted(self.alerts.values(), key=sort_key)
        fallback = None
        if before is not None and before.id not in self.alerts:
            fallback = sum(1 for a in ordered if sort_key(a) < sort_key(before))
        table.set_rows([Row(str(a.id), self.cells(a, now)) for a in ordered], fallback=fallback)
        self.shown = {str(a.id): a for a in ordered}
        self.render_counts()

    def render_counts(self) -> None:
        c = self.counts
        counts = Text()
        counts.append(f" HIGH {c.high} ", style=SEVERITY_STYLE["high"])
        counts.append("  ")
        counts.append(f" MEDIUM {c.medium} ", style=SEVERITY_STYLE["medium"])
        counts.append("  ")
        counts.append(f" LOW {c.low} ", style=SEVERITY_STYLE["low"])
        counts.append("   open alerts, not yet acknowledged", style="dim")
        self.query_one("#alert-counts", Static).update(counts)
        n = len(self.alerts)
        more = " · more load as you scroll" if self.next_cursor else ""
        self.query_one("#list-status", Static).update(f"{n} alerts shown{more}" if n else "No active alerts.")

    def current_alert(self) -> AlertItem | None:
        key = self.query_one(RowTable).cursor_key
        return self.alerts.get(int(key)) if key is not None else None

    def on_screen_resume(self) -> None:
        """Back from a patient (where she may have acted): catch up at once."""
        self.poll()

    def alert_changed(self, alert: AlertItem | None) -> None:
        if alert is None:
            self.reload()
        else:
            self.merge([alert])
            self.poll()  # the header's counts (and anything else that changed) at once, not at the next tick

    @on(RowTable.RowHighlighted, "#alerts")
    def _near_end(self, event: RowTable.RowHighlighted) -> None:
        if self.next_cursor and not self.loading_more and event.index >= event.table.row_count - 20:
            self.load_more()

    # ------------------------------------------------------------------ actions

    def _act(self, action: str) -> None:
        alert = self.current_alert()
        if alert is not None:
            self.act(alert, action)

    def action_acknowledge(self) -> None:
        self._act("acknowledge")

    def action_resolve(self) -> None:
        self._act("resolve")

    def action_escalate(self) -> None:
        self._act("escalate")

    def action_snooze(self) -> None:
        self._act("snooze")

    def action_open_patient(self) -> None:
        alert = self.current_alert()
        if alert is not None:
            self.app.open_patient(alert.person_id, focus_loinc=alert.loinc, focus_alert=alert.id)

    @on(RowTable.RowSelected, "#alerts")
    def _selected(self) -> None:
        self.action_open_patient()

    def action_patients(self) -> None:
        from clinic_tui.views.patients import PatientListScreen

        self.app.push_screen(PatientListScreen())

    def action_refresh(self) -> None:
        self.reload()

    def action_filter(self) -> None:
        self.query_one(FilterBox).open()

    def action_clear_filter(self) -> None:
        self.query_one(FilterBox).close()
        self.query_one(RowTable).focus()

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self.reload()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(RowTable).focus()
