"""Supervisor home: who looked at whose data, why, and whether it was allowed.

Shows who/what/when/why and the outcome; never a value of personal data (the server has none in
the audit log). Also the break-the-glass review queue and the hash-chain check.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from clinic_tui import findings_text, labels
from clinic_tui.api.monitoring import MonitoringApi
from clinic_tui.api.schemas import AuditEventOut, AuditFold, AuditPage, BreakGlassReview
from clinic_tui.api.schemas.monitoring import AuditExport
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.views.base import AppScreen
from clinic_tui.views.findings import OpensRecords, monitoring
from clinic_tui.views.format import local_time, plain
from clinic_tui.widgets.filter_box import FilterBox
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import TextPrompt
from clinic_tui.widgets.whoami import WhoAmI

PAGE = 200
FILTER_KEYS = {"user": "username", "outcome": "outcome", "action": "action", "person": "person_id"}
#: the reviews' state filter, in the order ``s`` steps through it (pending: never reviewed or needs follow-up)
REVIEW_STATES = ("pending", "all", "reviewed", "justified", "not_justified", "needs_follow_up")
ROUTINE_MODES = ("hide", "fold", "show")
#: what ``h`` does next, for the status line
ROUTINE_NEXT = {
    "hide": N_("h: fold them in"),
    "fold": N_("h: show every routine record"),
    "show": N_("h: hide routine records"),
}
OUTCOME_STYLE = {"allowed": "green", "denied": "bold red", "error": "bold yellow"}


def parse_filter(text: str) -> dict[str, str]:
    """``user:anna outcome:denied`` → filters; a bare word means a username."""
    filters: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key in FILTER_KEYS and value:
            filters[FILTER_KEYS[key]] = value
        elif not sep:
            filters["username"] = token
    return filters


def write_export(path: str, data: AuditExport) -> Path:
    """Write an export to ``path``: CSV (the server's columns, spreadsheet-safe) for a ``.csv`` name,
    else JSON. Returns the absolute path written."""
    target = Path(path).expanduser().resolve()
    if target.suffix.lower() == ".csv":
        text = MonitoringApi.export_csv(data)
    else:
        text = data.model_dump_json(indent=2)
    target.write_text(text, encoding="utf-8")
    return target


class AuditScreen(OpensRecords, AppScreen):
    AREA = N_("Audit")
    HELP_TEXT = N_(
        "The access log: who read or changed what, when, why and whether it was allowed. Filter with "
        "user:NAME, outcome:denied, action:read or person:ID. Break-the-glass reviews list emergency "
        "accesses waiting for your review; verify checks the log's hash chain."
    )
    BINDINGS = [
        Binding(
            "slash",
            "filter",
            N_("Filter"),
            id="audit.filter",
            tooltip=N_("Filter: user:NAME outcome:denied action:read person:ID"),
        ),
        Binding(
            "f",
            "findings",
            N_("Findings"),
            id="audit.findings",
            tooltip=N_("What the monitoring rules found: the findings queue"),
        ),
        Binding(
            "escape",
            "clear_filter",
            N_("Clear"),
            id="audit.clear",
            tooltip=N_("Clear the filter"),
            show=False,
        ),
        Binding(
            "v",
            "verify",
            N_("Verify chain"),
            id="audit.verify",
            tooltip=N_("Check the audit hash chain end to end"),
        ),
        Binding("r", "refresh", N_("Refresh"), id="audit.refresh", tooltip=N_("Reload")),
        Binding(
            "n",
            "review",
            N_("Review"),
            id="audit.review",
            tooltip=N_("Review the selected break-the-glass access"),
        ),
        Binding(
            "s",
            "review_state",
            N_("Review state"),
            id="audit.review_state",
            tooltip=N_("Show break-the-glass accesses in the next review state"),
        ),
        Binding(
            "h",
            "routine",
            N_("Routine"),
            id="audit.routine",
            tooltip=N_("Routine records (polling, jobs): hidden, folded or shown"),
        ),
        Binding(
            "x",
            "export",
            N_("Export"),
            id="audit.export",
            tooltip=N_("Export the filtered log to a file (CSV or JSON)"),
        ),
    ]

    def __init__(self):
        super().__init__()
        self.next_before: int | None = None
        self.reviews: dict[str, BreakGlassReview] = {}
        self.review_state = "pending"
        self.routine = "hide"
        self.routine_hidden = 0
        self.shown_keys: set[str] = set()
        self.loading_more = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield WhoAmI(id="whoami")
        with TabbedContent(id="audit-tabs"):
            with TabPane(_("Access log"), id="tab-log"):
                yield FilterBox(_("user:anna outcome:denied action:read person:ID"))
                yield DataTable(id="audit-log", cursor_type="row", zebra_stripes=True)
            with TabPane(_("Break-the-glass reviews"), id="tab-reviews"):
                yield DataTable(id="reviews", cursor_type="row")
                yield Static("", id="review-reason")
        yield Static("", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.session.user
        self.title = _("Audit — {organization}").format(organization=user.organization_name)
        log = self.query_one("#audit-log", DataTable)
        # who did what and whether it was allowed fit in 80 columns; the rest scrolls sideways
        for label, key, width in (
            ("#", "seq", 5),
            (_("When"), "ts", 16),
            (_("Who"), "who", 15),
            (_("Action"), "action", 14),
            (_("Outcome"), "outcome", 8),
            (_("Person"), "person", 9),
            (_("Purpose"), "purpose", 14),
            (_("Why"), "why", 44),
        ):
            log.add_column(label, key=key, width=width)
        reviews = self.query_one("#reviews", DataTable)
        for label, width in (
            (_("Opened"), 17),
            (_("Nurse"), 12),
            (_("Person"), 9),
            (_("Until"), 17),
            (_("State"), 16),
            (_("Reason"), 40),
        ):
            reviews.add_column(label, width=width)
        log.focus()
        self.load()
        self.load_reviews()

    # ------------------------------------------------------------------ access log

    @property
    def filters(self) -> dict[str, str]:
        return parse_filter(self.query_one("#filter", Input).value)

    def _row(self, e: AuditEventOut) -> list:
        who = f"{e.username or '—'} ({labels.role(e.role)})" if e.role else (e.username or "—")
        return [
            plain(e.seq),
            plain(local_time(e.ts)),
            plain(who),
            plain(labels.audit_action(e.action_name or e.action)),
            Text(labels.outcome(e.outcome), style=OUTCOME_STYLE.get(e.outcome, "")),
            plain((e.person_id or "")[:6]),
            plain(e.purpose),
            plain(e.reason),
        ]

    def _fold_row(self, f: AuditFold) -> list:
        """Routine records folded into one dim line: who, how many of what, and the span they cover."""
        why = ngettext(
            "{n} routine record folded ({resource}, records {first}–{last})",
            "{n} routine records folded ({resource}, records {first}–{last})",
            f.count,
        ).format(n=f.count, resource=f.resource_type, first=f.first_seq, last=f.last_seq)
        return [
            Text("…", style="dim"),
            Text(local_time(f.last_ts), style="dim"),
            Text(f.username or "—", style="dim"),
            Text(f"{f.count}× {f.action}", style="dim"),
            Text(""),
            Text(""),
            Text(""),
            Text(why, style="dim italic"),
        ]

    def _add(self, table: DataTable, page: AuditPage) -> None:
        """The page's records, and in fold mode its folded lines in their place (newest first)."""
        rows = [(e.seq, str(e.seq), self._row(e)) for e in page.items]
        rows += [(f.last_seq, f"fold-{f.first_seq}-{f.last_seq}", self._fold_row(f)) for f in page.folded]
        for _seq, key, cells in sorted(rows, key=lambda r: r[0], reverse=True):
            if key not in self.shown_keys:
                self.shown_keys.add(key)
                table.add_row(*cells, key=key)

    async def _page(self, before_seq: int | None = None) -> AuditPage:
        filters = dict(self.filters)
        if "person_id" in filters:
            filters["person"] = filters.pop("person_id")
        return await monitoring(self).events(
            before_seq=before_seq, limit=PAGE, routine=self.routine, **filters
        )

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def load(self) -> None:
        page = await self._page()
        table = self.query_one("#audit-log", DataTable)
        with self.app.batch_update():
            table.clear()
            self.shown_keys = set()
            self.routine_hidden = 0
            self._add(table, page)
        self.next_before = page.next_before_seq
        self.routine_hidden = page.routine_hidden
        self._status()

    def _status(self) -> None:
        n = sum(1 for key in self.shown_keys if not key.startswith("fold-"))
        status = ngettext("{n} record, newest first", "{n} records, newest first", n).format(n=n)
        if self.routine == "hide":
            status += " · " + ngettext(
                "{n} routine record hidden", "{n} routine records hidden", self.routine_hidden
            ).format(n=self.routine_hidden)
        status += " · " + _(ROUTINE_NEXT[self.routine])
        if self.next_before:
            status += " · " + _("older load as you scroll")
        self.query_one("#list-status", Static).update(status)

    @work(exclusive=True, group="audit-more", exit_on_error=False)
    async def load_more(self) -> None:
        if self.next_before is None:
            return
        self.loading_more = True
        try:
            page = await self._page(self.next_before)
        finally:
            self.loading_more = False
        self._add(self.query_one("#audit-log", DataTable), page)
        self.next_before = page.next_before_seq
        self.routine_hidden += page.routine_hidden
        self._status()

    def action_routine(self) -> None:
        self.routine = ROUTINE_MODES[(ROUTINE_MODES.index(self.routine) + 1) % len(ROUTINE_MODES)]
        self.query_one(TabbedContent).active = "tab-log"
        self.load()

    @on(DataTable.RowSelected, "#audit-log")
    def _open_record(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key and not key.startswith("fold-"):
            self.open_record(int(key))

    def action_export(self, path: str = "") -> None:
        prompt = TextPrompt(
            _("Export the audit log"),
            _(
                "The records the filter shows (routine ones too unless hidden), up to 100,000, to a file: "
                "a name ending in .csv writes CSV, else JSON. File:"
            ),
            initial=path or "audit-export.csv",
            max_length=500,
        )
        self.app.push_screen(prompt, lambda text: text and self.export(text))

    @work(group="audit-export", exit_on_error=False)
    async def export(self, path: str) -> None:
        import asyncio

        filters = dict(self.filters)
        if "person_id" in filters:
            filters["person"] = filters.pop("person_id")
        data = await monitoring(self).export(limit=100_000, routine=self.routine != "hide", **filters)
        try:
            target = await asyncio.to_thread(write_export, path, data)
        except OSError as exc:
            self.app.notify(
                _("Could not write {path}: {problem}").format(path=path, problem=exc.strerror or exc),
                severity="error",
                markup=False,
            )
            self.action_export(path)
            return
        done = ngettext(
            "Exported {n} record to {path}.", "Exported {n} records to {path}.", data.count
        ).format(n=data.count, path=str(target.resolve()))
        if data.truncated:
            done += " " + _("More records matched: narrow the filter and export the rest.")
        self.app.notify(done, title=_("Export"), timeout=8, markup=False)

    @on(DataTable.RowHighlighted, "#audit-log")
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if self.next_before and not self.loading_more and event.cursor_row >= event.data_table.row_count - 20:
            self.load_more()

    def action_filter(self) -> None:
        self.query_one(TabbedContent).active = "tab-log"
        self.query_one(FilterBox).open()

    def action_clear_filter(self) -> None:
        self.query_one(FilterBox).close()
        self.query_one("#audit-log", DataTable).focus()
        self.load()

    @on(Input.Submitted, "#filter")
    def _apply_filter(self) -> None:
        self.load()
        self.query_one("#audit-log", DataTable).focus()

    def action_refresh(self) -> None:
        self.load()
        self.load_reviews()

    def action_findings(self) -> None:
        from clinic_tui.views.findings import FindingsScreen

        self.app.push_screen(FindingsScreen())

    @work(exclusive=True, group="audit-verify", exit_on_error=False)
    async def action_verify(self) -> None:
        self.query_one("#list-status", Static).update(_("Verifying the audit chain…"))
        result = await self.app.session.client.audit_verify()
        if result.ok:
            text = _("Audit chain intact: {n} records verified.").format(n=result.checked)
            self.app.notify(text, title=_("Audit verify"), timeout=6)
        else:
            if result.first_bad_seq is None:  # the checkpoints, not one record (docs/audit.md)
                text = _("AUDIT CHAIN BROKEN: {problem}").format(problem=result.problem)
            else:
                text = _("AUDIT CHAIN BROKEN at record {seq}: {problem}").format(
                    seq=result.first_bad_seq, problem=result.problem
                )
            self.app.notify(text, title=_("Audit verify"), severity="error", timeout=15, markup=False)
        self.query_one("#list-status", Static).update(Text(text))

    # ------------------------------------------------------------------ reviews

    @work(exclusive=True, group="reviews", exit_on_error=False)
    async def load_reviews(self) -> None:
        data = await monitoring(self).reviews(self.review_state)
        self.reviews = {r.id: r for r in data.items}
        table = self.query_one("#reviews", DataTable)
        with self.app.batch_update():
            table.clear()
            for r in data.items:
                table.add_row(
                    plain(local_time(r.created_at)),
                    plain(r.username),
                    plain(r.person_id[:6]),
                    plain(local_time(r.expires_at)),
                    plain(findings_text.state(r.state)),
                    plain(r.reason),
                    key=r.id,
                )
        pane = self.query_one(TabbedContent)
        pane.get_tab("tab-reviews").label = Text(
            _("Break-the-glass reviews ({n})").format(n=len(data.items))
            + ("" if self.review_state == "pending" else f" · {findings_text.state(self.review_state)}")
        )

    @on(DataTable.RowHighlighted, "#reviews")
    def _show_reason(self, event: DataTable.RowHighlighted) -> None:
        review = self.reviews.get(event.row_key.value) if event.row_key else None
        self.query_one("#review-reason", Static).update(plain(review.reason) if review else "")

    @on(DataTable.RowSelected, "#reviews")
    def _selected(self) -> None:
        self.action_review()

    def action_review(self) -> None:
        """Open the selected break-the-glass access: its records, verdicts and the verdict dialog."""
        from clinic_tui.views.reviews import GrantScreen

        table = self.query_one("#reviews", DataTable)
        if not table.row_count:
            self.app.notify(_("No break-the-glass access is waiting for review."))
            return
        self.query_one(TabbedContent).active = "tab-reviews"
        grant_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.app.push_screen(GrantScreen(grant_id), lambda _result: self.action_refresh())

    def action_review_state(self) -> None:
        states = REVIEW_STATES
        self.review_state = states[(states.index(self.review_state) + 1) % len(states)]
        self.query_one(TabbedContent).active = "tab-reviews"
        self.load_reviews()
