"""The alert queue: the nurse's home. Ordered by severity, then age; updates itself.

By default it holds the active alerts (``ACTIVE_STATES``): open, acknowledged, and snoozed ones,
which say until when and come back as they were when the time is up (on the next poll). ``v``
switches it to the alerts she has taken on (Mine: acknowledged, snoozed or escalated, and she was
the last to act on them), the alerts snoozed now, the escalated ones (to whom) or those resolved today (since
the local midnight of this computer, sent to the server as ``resolved_since``), and back
(``VIEWS``); the header names the view shown.

Paged at the API (keyset): the table holds the pages loaded so far, never the whole queue, and
more are fetched as the cursor nears the end. Live updates are merged by alert id inside one
batch update, and the cursor stays on the alert it was on.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from clinic_tui import labels
from clinic_tui.api.schemas import AlertCounts, AlertItem
from clinic_tui.domain.alert_lifecycle import ACTIVE_STATES, AlertState
from clinic_tui.domain.alerts import severity_rank
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.i18n.formats import number
from clinic_tui.views.alert_actions import ALERT_KEYS, AlertActions, state_text
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
#: (label, width, least): None takes the width the others leave; at 80 columns each shrinks toward
#: its least, so severity, patient, alert, age and state stay on screen
COLUMNS = (
    (N_("Sev"), 6, 5),
    (N_("Patient"), 24, 13),
    (N_("Alert"), None, 12),
    (N_("Value"), 14, 8),
    (N_("Age"), 6, 6),
    (N_("State"), 19, 19),  # "snoozed until 14:30"
)


#: the queue's views, in the order ``v`` goes through them: (state asked of the server, its name,
#: what an empty view says)
VIEWS = (
    ("active", N_("Active"), N_("No active alerts.")),
    ("mine", N_("Mine"), N_("No alerts taken on by you.")),
    (AlertState.SNOOZED.value, N_("Snoozed"), N_("No snoozed alerts.")),
    (AlertState.ESCALATED.value, N_("Escalated"), N_("No escalated alerts.")),
    (AlertState.RESOLVED.value, N_("Resolved today"), N_("No alerts resolved today.")),
)
VIEW_NAMES = {state: name for state, name, _empty in VIEWS}
#: the states of an alert someone has taken on (the Mine view: those she was the last to act on)
MINE_STATES = frozenset({AlertState.ACKNOWLEDGED, AlertState.SNOOZED, AlertState.ESCALATED})


def local_midnight() -> datetime:
    """The start of today on this computer's clock, as an aware time (the offset of that moment,
    which on a daylight-saving day may differ from the offset now)."""
    return datetime.combine(date.today(), time()).astimezone()


def resolved_since(view: str) -> datetime | None:
    """What the server is asked for the Resolved view: those resolved since local midnight."""
    return local_midnight() if view == AlertState.RESOLVED else None


def in_view(view: str, a: AlertItem) -> bool:
    """Does ``a`` (its state as the server read it just now) belong in the queue's ``view``?"""
    if view == "active":
        return a.state in ACTIVE_STATES
    if view == "mine":  # taken on by her: the last to act on it, and not resolved or back as open
        return a.mine and a.state in MINE_STATES
    if view == AlertState.RESOLVED:  # resolved today: a resolved alert's last change is its resolution
        return a.state == view and a.updated_at >= local_midnight()
    return a.state == view


#: the server's label for a namesake: "Johanna Hansson (1957-01-03)", or with the personnummer
#: where the birth date is shared too (``services/alerts.labels_for``)
NAMESAKE = re.compile(r"(?P<name>.+) \((?P<detail>\d{4}-\d{2}-\d{2}|\d{8}-\d{4})\)")


def patient_cell(label: str) -> Cell:
    """The Patient cell. A namesake's label offers shorter forms for a narrow column, ending in
    what tells her apart, which survives the cut: "J. Hansson 1957-01-03", "Hansson 1957-01-03",
    at 80 columns "H… 1957-01-03"."""
    found = NAMESAKE.fullmatch(label)
    if found is None:
        return Cell(label)
    *given, family = found["name"].split()
    detail = found["detail"]
    initials = " ".join(f"{g[0]}." for g in given)
    shorter = (f"{initials} {family} {detail}".strip(), f"{family} {detail}")
    return Cell(label, shorter=shorter, tail=detail)


def sort_key(a: AlertItem):
    return (severity_rank(a.severity), a.opened_at, a.id)


class AlertQueueScreen(AlertActions, AppScreen):
    AREA = N_("Alerts")
    HELP_TEXT = N_(
        "Columns: Sev is the severity (HIGH, MEDIUM, LOW); Patient is who it concerns; Alert is the "
        "rule and what it found; Value is the measurement that raised it; Age is how long it has been "
        "open; State is where it stands.\n\n"
        "States: open (nobody has taken it yet), acknowledged (someone is on it; resolve or escalate it "
        "next, with a note), snoozed until a time (it comes back as it was), escalated (handed on), "
        "resolved (done, with a note).\n\n"
        "The queue updates itself every few seconds; the cursor stays on its alert."
    )
    BINDINGS = [
        *ALERT_KEYS,
        Binding(
            "o", "open_patient", N_("Patient"), id="alerts.open", tooltip=N_("Open the patient of this alert")
        ),
        Binding(
            "slash",
            "filter",
            N_("Filter"),
            id="alerts.filter",
            tooltip=N_("Filter by patient, rule or message"),
        ),
        Binding(
            "escape",
            "clear_filter",
            N_("Clear"),
            id="alerts.clear",
            tooltip=N_("Clear the filter"),
            show=False,
        ),
        Binding("p", "patients", N_("Patients"), id="alerts.patients", tooltip=N_("All your patients")),
        Binding("r", "refresh", N_("Refresh"), id="alerts.refresh", tooltip=N_("Reload the queue")),
        Binding(
            "v",
            "next_view",
            N_("View"),
            id="alerts.view",
            tooltip=N_("Show the next view: active, mine, snoozed, escalated, resolved today"),
        ),
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
        #: which alerts the queue shows (a state of ``VIEWS``)
        self.view = "active"

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield Static("", id="alert-counts")
        yield FilterBox(_("Filter: patient, rule, message (Esc clears)"))
        columns = [Column(_(label), width, min_width=30, least=least) for label, width, least in COLUMNS]
        yield RowTable(columns, id="alerts")
        yield Static(_("Loading…"), id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.session.user
        self.title = _("Alerts — {organization}").format(organization=user.organization_name)
        self.sub_title = _("View: {name}").format(name=_(VIEW_NAMES[self.view]))
        self.query_one(RowTable).focus()
        self.reload()
        self.set_interval(POLL_SECONDS, self.poll)

    # ------------------------------------------------------------------ data

    @property
    def filter_text(self) -> str | None:
        return self.query_one("#filter", Input).value.strip() or None

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def reload(self) -> None:
        page = await self.app.session.client.alerts(
            state=self.view, q=self.filter_text, limit=PAGE, resolved_since=resolved_since(self.view)
        )
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
            page = await self.app.session.client.alerts(
                state=self.view,
                q=self.filter_text,
                after=self.next_cursor,
                limit=PAGE,
                resolved_since=resolved_since(self.view),
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
        changes = await self.app.session.client.alert_changes(self.since)
        self.since = changes.next_since
        self.counts = changes.counts
        if changes.truncated:
            self.reload()
            return
        self.merge(changes.items)

    def merge(self, items: list[AlertItem]) -> None:
        """Apply changed alerts by id: drop those that left the view, update or add those in it."""
        needle = (self.filter_text or "").lower()
        last = max(self.alerts.values(), key=sort_key) if self.alerts and self.next_cursor else None
        for a in items:
            if not in_view(self.view, a):
                self.alerts.pop(a.id, None)
                continue
            if needle and needle not in f"{a.label} {a.rule_id} {a.message} {labels.alert(a)}".lower():
                self.alerts.pop(a.id, None)
                continue
            # beyond the loaded pages: it will arrive with its page
            if last is not None and a.id not in self.alerts and sort_key(a) > sort_key(last):
                continue
            self.alerts[a.id] = a
        self.render_rows()

    def cells(self, a: AlertItem, now: datetime) -> tuple[Cell, ...]:
        value = f"{number(a.value)} {labels.unit(a.unit)}".strip() if a.value is not None else ""
        return (
            Cell(labels.severity(a.severity).upper(), SEVERITY_STYLE[a.severity]),
            patient_cell(a.label),
            Cell(labels.alert(a)),
            Cell(value),
            Cell(age_text(a.opened_at, now)),
            Cell(state_text(a, now, short=True)),
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
        self.refresh_bindings()  # the selected alert, or its state, may have changed

    def render_counts(self) -> None:
        c = self.counts
        counts = Text()
        counts.append(" " + _("HIGH {n}").format(n=c.high) + " ", style=SEVERITY_STYLE["high"])
        counts.append("  ")
        counts.append(" " + _("MEDIUM {n}").format(n=c.medium) + " ", style=SEVERITY_STYLE["medium"])
        counts.append("  ")
        counts.append(" " + _("LOW {n}").format(n=c.low) + " ", style=SEVERITY_STYLE["low"])
        counts.append("   " + _("open alerts, not yet acknowledged"), style="dim")
        self.query_one("#alert-counts", Static).update(counts)
        n = len(self.alerts)
        if not n:
            status = _(next(empty for state, _name, empty in VIEWS if state == self.view))
        else:
            status = ngettext("{n} alert shown", "{n} alerts shown", n).format(n=n)
            if self.next_cursor:
                status += " · " + _("more load as you scroll")
        self.query_one("#list-status", Static).update(status)

    def current_alert(self) -> AlertItem | None:
        key = self.query_one(RowTable).cursor_key
        return self.alerts.get(int(key)) if key is not None else None

    def selected_alert(self) -> AlertItem | None:
        return self.current_alert()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "alert":
            return self.alert_key_state(*parameters)
        if action == "open_patient":
            return self.current_alert() is not None
        return True

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
    def _highlighted(self, event: RowTable.RowHighlighted) -> None:
        self.refresh_bindings()  # the keys the footer offers follow the selected alert
        if self.next_cursor and not self.loading_more and event.index >= event.table.row_count - 20:
            self.load_more()

    # ------------------------------------------------------------------ actions

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

    def action_next_view(self) -> None:
        states = [state for state, _name, _empty in VIEWS]
        self.show_view(states[(states.index(self.view) + 1) % len(states)])

    def show_view(self, view: str) -> None:
        """Show the alerts of ``view`` (a state of ``VIEWS``), from the top."""
        self.view = view
        self.sub_title = _("View: {name}").format(name=_(VIEW_NAMES[view]))
        self.alerts = {}
        self.next_cursor = None
        self.shown = {}
        self.query_one(RowTable).set_rows([])
        self.query_one("#list-status", Static).update(_("Loading…"))
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
