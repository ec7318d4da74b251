"""The supervisor's findings: the queue of what the monitoring rules found in her organization's
audit log, and one finding with its reason, its evidence records, its verdict history, the verdict
dialog and the audited "who is this?" look-up.

Reached from the audit log (``f``); Esc goes back. Every call goes through ``MonitoringApi``; people
appear by opaque id until the supervisor asks who someone is (one audited look-up at a time).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from clinic_tui import findings_text, labels
from clinic_tui.api.monitoring import MonitoringApi
from clinic_tui.api.schemas import AuditEventOut, VerdictOut
from clinic_tui.api.schemas.monitoring import FindingDetail, FindingSummary
from clinic_tui.domain.findings import FindingState, RuleId, Verdict
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import local_time, personnummer_display, plain
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.verdict import AuditRecordScreen, VerdictPrompt
from clinic_tui.widgets.whoami import WhoAmI

PAGE = 50
#: the queue's state filter, in the order ``s`` steps through it
STATES = ("waiting", *FindingState, "all")
STATE_STYLE = {
    FindingState.NEW: "bold",
    FindingState.NEEDS_FOLLOW_UP: "yellow",
    FindingState.NOT_JUSTIFIED: "bold red",
    FindingState.JUSTIFIED: "green",
}
OUTCOME_STYLE = {"allowed": "green", "denied": "bold red", "error": "bold yellow"}
AUDITED_LOOKUP = N_(
    "Who is this? (w) shows name and personnummer; each look-up is recorded in the audit log."
)


def monitoring(screen) -> MonitoringApi:
    return MonitoringApi(screen.app.session.client)


def person_label(person_id: str | None) -> str:
    """A person as the log shows them: the first 6 characters of the opaque id."""
    return _("Patient {id}").format(id=person_id[:6]) if person_id else _("several people")


def event_row(e: AuditEventOut) -> list:
    who = f"{e.username or '—'} ({labels.role(e.role)})" if e.role else (e.username or "—")
    return [
        plain(e.seq),
        plain(local_time(e.ts)),
        plain(who),
        plain(e.action_name or e.action),
        plain((e.person_id or "")[:6]),
        plain(e.purpose),
        Text(labels.outcome(e.outcome), style=OUTCOME_STYLE.get(e.outcome, "")),
        plain(e.reason),
    ]


EVENT_COLUMNS = (
    ("#", "seq", 7),
    (N_("When"), "ts", 17),
    (N_("Who"), "who", 18),
    (N_("Action"), "action", 14),
    (N_("Person"), "person", 8),
    (N_("Purpose"), "purpose", 10),
    (N_("Outcome"), "outcome", 8),
    (N_("Why"), "why", 40),
)


def add_event_columns(table: DataTable) -> None:
    for label, key, width in EVENT_COLUMNS:
        table.add_column(_(label) if label != "#" else label, key=key, width=width)


def history_text(verdicts: list[VerdictOut]) -> Text:
    """The verdicts, oldest first: who said what, when, with the note."""
    text = Text()
    if not verdicts:
        text.append(_("No verdict yet."), style="italic")
        return text
    for v in verdicts:
        said = findings_text.verdict(v.verdict) if v.verdict else _("note only")
        text.append(f"{v.ordinal}. {local_time(v.at)} {v.by}: ", style="bold")
        text.append(said, style=STATE_STYLE.get(v.verdict, ""))
        text.append(" — " + v.note + "\n")
    return text


def conflict_text(params: dict) -> str:
    """What a 409 on a verdict says: who judged it meanwhile, what and when."""
    if params.get("by"):
        verdict = params.get("verdict")
        return _(
            "{by} recorded a verdict ({verdict}) at {at} meanwhile. It is reloaded: read it and decide again."
        ).format(
            by=params["by"],
            verdict=findings_text.verdict(verdict) if verdict else _("note only"),
            at=params.get("at", "")[:16].replace("T", " "),
        )
    return _("Someone judged this meanwhile. It is reloaded: read it and decide again.")


async def show_identity(screen, person: str | None) -> None:
    """Look up who ``person`` is (one audited call) and show it in the screen's ``#identity``."""
    if person is None:
        screen.app.notify(_("This record names no person."))
        return
    who = await monitoring(screen).identity(person)
    text = Text()
    text.append(f"{person_label(person)}: ", style="bold")
    text.append(
        _("{given} {family}, personnummer {pnr}, born {born}").format(
            given=who.given_name,
            family=who.family_name,
            pnr=personnummer_display(who.personnummer),
            born=who.birth_date.isoformat(),
        )
    )
    text.append("  " + _("(this look-up is recorded in the audit log, purpose audit)"), style="italic")
    screen.query_one("#identity", Static).update(text)


class OpensRecords:
    """Enter on an audit row (a ``DataTable`` keyed by seq) opens the full record."""

    @work(group="audit-record", exit_on_error=False)
    async def open_record(self, seq: int) -> None:
        record = await monitoring(self).event(seq)
        self.app.push_screen(AuditRecordScreen(record))


def judged_bindings(part: str, back_tooltip: str) -> list[Binding]:
    """The keys of a screen with something to judge; binding ids ``{part}.back`` and so on."""
    return [
        Binding("escape", "back", N_("Back"), id=f"{part}.back", tooltip=back_tooltip),
        Binding("j", "judge", N_("Verdict"), id=f"{part}.judge", tooltip=N_("Record a verdict with a note")),
        Binding(
            "w",
            "who",
            N_("Who is this?"),
            id=f"{part}.who",
            tooltip=N_("Show the person's name and personnummer (the look-up is audited)"),
        ),
        Binding("r", "refresh", N_("Refresh"), id=f"{part}.refresh", tooltip=N_("Reload")),
    ]


class Judged(OpensRecords):
    """A screen with something to judge (a finding, a break-the-glass access): the verdict dialog,
    sending ``expected_version``; a stopped server keeps the note, a conflict reloads and says who."""

    #: the verdicts this screen has seen (sent as ``expected_version``)
    version: int = 0
    #: what was chosen and typed when a verdict did not get through
    kept: tuple[Verdict | None, str] = (None, "")

    def verdict_title(self) -> str:
        raise NotImplementedError

    def verdict_context(self) -> str:
        raise NotImplementedError

    async def send_verdict(self, verdict: Verdict, note: str, version: int):
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    def shown(self, result) -> None:
        raise NotImplementedError

    #: the ids of the head and reason lines (``#finding-head``), and the evidence table's title
    PART: str = ""
    EVIDENCE_TITLE: str = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        with VerticalScroll(id="detail"):
            yield Static("", id=f"{self.PART}-head")
            yield Static("", id=f"{self.PART}-reason")
            yield Static(_(AUDITED_LOOKUP), id="identity", classes="muted")
            yield Static(_(self.EVIDENCE_TITLE), classes="section-title")
            yield DataTable(id="evidence", cursor_type="row", zebra_stripes=True)
            yield Static(_("Verdicts"), classes="section-title")
            yield Static("", id="verdicts")
        yield Static("", id="detail-status")
        yield KeyFooter()

    def action_judge(self) -> None:
        verdict, note = self.kept
        prompt = VerdictPrompt(self.verdict_title(), self.verdict_context(), verdict=verdict, note=note)
        self.app.push_screen(prompt, lambda result: result and self.judge(*result))

    @work(group="verdict-send", exit_on_error=False)
    async def judge(self, verdict: Verdict, note: str) -> None:
        from clinic_tui.api.client import ApiError, Unreachable
        from clinic_tui.errors import describe

        self.kept = (verdict, note)
        try:
            result = await self.send_verdict(verdict, note, self.version)
        except Unreachable as exc:
            self.app.notify(
                describe(exc).text + " " + _("Your note is kept."), severity="error", markup=False
            )
            self.action_judge()
            return
        except ApiError as exc:
            if exc.status == 409:
                self.app.notify(
                    conflict_text(exc.params) + " " + _("Your note is kept."),
                    title=_("Judged meanwhile"),
                    severity="warning",
                    timeout=12,
                    markup=False,
                )
                self.query_one("#detail-status", Static).update(Text(conflict_text(exc.params)))
                self.reload()
                return
            raise
        self.kept = (None, "")
        self.app.notify(_("Verdict recorded: {verdict}.").format(verdict=findings_text.verdict(verdict)))
        self.shown(result)


class FindingsScreen(AppScreen):
    """The queue: newest first, the waiting ones (new, needs follow-up) by default."""

    BINDINGS = [
        Binding("escape", "back", N_("Audit log"), id="findings.back", tooltip=N_("Back to the audit log")),
        Binding(
            "s", "next_state", N_("State"), id="findings.state", tooltip=N_("Show findings in the next state")
        ),
        Binding(
            "u", "next_rule", N_("Rule"), id="findings.rule", tooltip=N_("Show the next rule's findings only")
        ),
        Binding("r", "refresh", N_("Refresh"), id="findings.refresh", tooltip=N_("Reload")),
        Binding("m", "more", N_("Older"), id="findings.more", tooltip=N_("Load the next, older findings")),
    ]

    def __init__(self):
        super().__init__()
        self.state = "waiting"
        self.rule: RuleId | None = None
        self.items: dict[str, FindingSummary] = {}
        self.next_before: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        yield Static("", id="findings-counts")
        yield Static("", id="findings-filter", classes="muted")
        yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
        yield Static("", id="finding-reason")
        yield Static("", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.session.user
        self.title = _("Findings — {organization}").format(organization=user.organization_name)
        table = self.query_one("#findings", DataTable)
        for label, width in (
            (_("Rule"), 14),
            (_("User"), 10),
            (_("Person"), 14),
            (_("State"), 15),
            (_("Records"), 7),
            (_("First"), 16),
            (_("Last"), 16),
        ):
            table.add_column(label, width=width)
        table.focus()
        self.load()

    def _row(self, f: FindingSummary) -> list:
        return [
            plain(findings_text.rule(f.rule_id)),
            plain(f.username),
            plain(person_label(f.person_id)),
            Text(findings_text.state(f.state), style=STATE_STYLE.get(f.state, "")),
            plain(f.evidence_count),
            plain(local_time(f.first_ts)),
            plain(local_time(f.last_ts)),
        ]

    def _show_filter(self) -> None:
        rule = findings_text.rule(self.rule) if self.rule else _("all rules")
        self.query_one("#findings-filter", Static).update(
            _("Showing: {state} · {rule} (s: state, u: rule)").format(
                state=findings_text.state(self.state), rule=rule
            )
        )

    @work(exclusive=True, group="findings", exit_on_error=False)
    async def load(self) -> None:
        self._show_filter()
        page = await monitoring(self).findings(state=self.state, rule=self.rule, limit=PAGE)
        self.items = {str(f.id): f for f in page.items}
        table = self.query_one("#findings", DataTable)
        with self.app.batch_update():
            table.clear()
            for f in page.items:
                table.add_row(*self._row(f), key=str(f.id))
        self.next_before = page.next_before_id
        counts = " · ".join(f"{findings_text.state(s)} {page.counts.get(str(s), 0)}" for s in FindingState)
        self.query_one("#findings-counts", Static).update(Text(_("Findings: {counts}").format(counts=counts)))
        self._status()
        self._show_reason()

    def _status(self) -> None:
        n = self.query_one("#findings", DataTable).row_count
        status = ngettext("{n} finding, newest first", "{n} findings, newest first", n).format(n=n)
        if self.next_before:
            status += " · " + _("m: older findings")
        status += " · " + _("Enter: open")
        self.query_one("#list-status", Static).update(status)

    @work(exclusive=True, group="findings-more", exit_on_error=False)
    async def action_more(self) -> None:
        if self.next_before is None:
            self.app.notify(_("No older findings."))
            return
        page = await monitoring(self).findings(
            state=self.state, rule=self.rule, before_id=self.next_before, limit=PAGE
        )
        table = self.query_one("#findings", DataTable)
        for f in page.items:
            if str(f.id) not in self.items:
                self.items[str(f.id)] = f
                table.add_row(*self._row(f), key=str(f.id))
        self.next_before = page.next_before_id
        self._status()

    def current(self) -> FindingSummary | None:
        table = self.query_one("#findings", DataTable)
        if not table.row_count:
            return None
        return self.items.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#findings")
    def _show_reason(self) -> None:
        f = self.current()
        text = findings_text.reason_text(f.reason.key, f.reason.params) if f else _("No findings here.")
        self.query_one("#finding-reason", Static).update(Text(text))

    @on(DataTable.RowSelected, "#findings")
    def _open(self) -> None:
        f = self.current()
        if f is not None:
            self.app.push_screen(FindingScreen(f.id), lambda _result: self.load())

    def action_next_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self.load()

    def action_next_rule(self) -> None:
        rules = [None, *RuleId]
        self.rule = rules[(rules.index(self.rule) + 1) % len(rules)]
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)


class FindingScreen(Judged, AppScreen):
    """One finding: why it fired, the records behind it, the verdicts so far."""

    BINDINGS = judged_bindings("finding", N_("Back to the findings"))
    PART = "finding"
    EVIDENCE_TITLE = N_("Evidence (Enter opens the full record)")

    def __init__(self, finding_id: int):
        super().__init__()
        self.finding_id = finding_id
        self.finding: FindingDetail | None = None

    def on_mount(self) -> None:
        self.title = _("Finding {id}").format(id=self.finding_id)
        table = self.query_one("#evidence", DataTable)
        add_event_columns(table)
        table.focus()
        self.reload()

    @work(exclusive=True, group="finding", exit_on_error=False)
    async def load(self) -> None:
        self.shown(await monitoring(self).finding(self.finding_id))

    def reload(self) -> None:
        self.load()

    def shown(self, f: FindingDetail) -> None:
        self.finding = f
        self.version = f.version
        head = Text()
        head.append(findings_text.rule(f.rule_id), style="bold")
        head.append(
            "  "
            + _("{user} · {person} · {first} – {last} · {n} records · {state}").format(
                user=f.username,
                person=person_label(f.person_id),
                first=local_time(f.first_ts),
                last=local_time(f.last_ts),
                n=f.evidence_count,
                state=findings_text.state(f.state),
            )
        )
        self.query_one("#finding-head", Static).update(head)
        self.query_one("#finding-reason", Static).update(
            Text(findings_text.reason_text(f.reason.key, f.reason.params))
        )
        table = self.query_one("#evidence", DataTable)
        with self.app.batch_update():
            table.clear()
            for e in f.evidence:
                table.add_row(*event_row(e), key=str(e.seq))
        self.query_one("#verdicts", Static).update(history_text(f.verdicts))

    @on(DataTable.RowSelected, "#evidence")
    def _open_record(self, event: DataTable.RowSelected) -> None:
        self.open_record(int(event.row_key.value))

    def verdict_title(self) -> str:
        return _("Verdict on finding {id}").format(id=self.finding_id)

    def verdict_context(self) -> str:
        f = self.finding
        if f is None:
            return ""
        return f"{findings_text.rule(f.rule_id)} · {f.username}: " + findings_text.reason_text(
            f.reason.key, f.reason.params
        )

    async def send_verdict(self, verdict: Verdict, note: str, version: int):
        return await monitoring(self).judge(self.finding_id, verdict, note, expected_version=version)

    def action_judge(self) -> None:
        if self.finding is None:
            return
        super().action_judge()

    def _person(self) -> str | None:
        if self.finding and self.finding.person_id:
            return self.finding.person_id
        table = self.query_one("#evidence", DataTable)
        if table.row_count and self.finding:
            seq = int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            return next((e.person_id for e in self.finding.evidence if e.seq == seq), None)
        return None

    @work(exclusive=True, group="identity", exit_on_error=False)
    async def action_who(self) -> None:
        await show_identity(self, self._person())

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)
