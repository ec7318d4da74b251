"""Supervisor home: who looked at whose data, why, and whether it was allowed.

Shows who/what/when/why and the outcome; never a value of personal data (the server has none in
the audit log). Also the break-the-glass review queue and the hash-chain check.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from clinic_tui import labels
from clinic_tui.api.schemas import AuditEventOut, BreakGlassReview
from clinic_tui.i18n import N_, _, ngettext
from clinic_tui.views.base import AppScreen
from clinic_tui.views.format import local_time, plain
from clinic_tui.widgets.filter_box import FilterBox
from clinic_tui.widgets.key_footer import KeyFooter
from clinic_tui.widgets.modals import TextPrompt
from clinic_tui.widgets.whoami import WhoAmI

PAGE = 200
FILTER_KEYS = {"user": "username", "outcome": "outcome", "action": "action", "person": "person_id"}
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


class AuditScreen(AppScreen):
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
    ]

    def __init__(self):
        super().__init__()
        self.next_before: int | None = None
        self.reviews: dict[str, BreakGlassReview] = {}
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
            (_("Reason"), 50),
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
            plain(labels.audit_action(e.action)),
            Text(labels.outcome(e.outcome), style=OUTCOME_STYLE.get(e.outcome, "")),
            plain((e.person_id or "")[:6]),
            plain(e.purpose),
            plain(e.reason),
        ]

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def load(self) -> None:
        page = await self.app.session.client.audit_events(limit=PAGE, **self.filters)
        table = self.query_one("#audit-log", DataTable)
        with self.app.batch_update():
            table.clear()
            for e in page.items:
                table.add_row(*self._row(e), key=str(e.seq))
        self.next_before = page.next_before_seq
        status = ngettext("{n} record, newest first", "{n} records, newest first", table.row_count).format(
            n=table.row_count
        )
        if self.next_before:
            status += " · " + _("older load as you scroll")
        self.query_one("#list-status", Static).update(status)

    @work(exclusive=True, group="audit-more", exit_on_error=False)
    async def load_more(self) -> None:
        if self.next_before is None:
            return
        self.loading_more = True
        try:
            page = await self.app.session.client.audit_events(
                before_seq=self.next_before, limit=PAGE, **self.filters
            )
        finally:
            self.loading_more = False
        table = self.query_one("#audit-log", DataTable)
        for e in page.items:
            table.add_row(*self._row(e), key=str(e.seq))
        self.next_before = page.next_before_seq

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

    @work(exclusive=True, group="audit-verify", exit_on_error=False)
    async def action_verify(self) -> None:
        self.query_one("#list-status", Static).update(_("Verifying the audit chain…"))
        result = await self.app.session.client.audit_verify()
        if result.ok:
            text = _("Audit chain intact: {n} records verified.").format(n=result.checked)
            self.app.notify(text, title=_("Audit verify"), timeout=6)
        else:
            text = _("AUDIT CHAIN BROKEN at record {seq}: {problem}").format(
                seq=result.first_bad_seq, problem=result.problem
            )
            self.app.notify(text, title=_("Audit verify"), severity="error", timeout=15, markup=False)
        self.query_one("#list-status", Static).update(Text(text))

    # ------------------------------------------------------------------ reviews

    @work(exclusive=True, group="reviews", exit_on_error=False)
    async def load_reviews(self) -> None:
        data = await self.app.session.client.break_glass_reviews()
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
                    plain(r.reason),
                    key=r.id,
                )
        pane = self.query_one(TabbedContent)
        pane.get_tab("tab-reviews").label = Text(_("Break-the-glass reviews ({n})").format(n=len(data.items)))

    @on(DataTable.RowHighlighted, "#reviews")
    def _show_reason(self, event: DataTable.RowHighlighted) -> None:
        review = self.reviews.get(event.row_key.value) if event.row_key else None
        self.query_one("#review-reason", Static).update(plain(review.reason) if review else "")

    @on(DataTable.RowSelected, "#reviews")
    def _selected(self) -> None:
        self.action_review()

    def action_review(self, note: str = "") -> None:
        table = self.query_one("#reviews", DataTable)
        if not table.row_count:
            self.app.notify(_("No break-the-glass access is waiting for review."))
            return
        self.query_one(TabbedContent).active = "tab-reviews"
        grant_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        review = self.reviews[grant_id]
        prompt = TextPrompt(
            _("Review emergency access by {username}").format(username=review.username),
            Text(
                _("Reason given: {reason}").format(reason=review.reason)
                + "\n"
                + _("Your review note (required):")
            ),
            initial=note,
        )
        self.app.push_screen(prompt, lambda text: text and self.send_review(grant_id, text))

    @work(group="review-send", exit_on_error=False)
    async def send_review(self, grant_id: str, note: str) -> None:
        """Recovers from a server that did not answer (the note comes back in the dialog); any
        refusal (already reviewed, ...) reloads the reviews and goes to the app's error handler."""
        from clinic_tui.api.client import ApiError, Unreachable
        from clinic_tui.errors import describe

        try:
            await self.app.session.client.review_break_glass(grant_id, note)
        except Unreachable as exc:
            self.app.notify(
                describe(exc).text + " " + _("Your note is kept."), severity="error", markup=False
            )
            self.action_review(note)
            return
        except ApiError:
            self.load_reviews()
            self.load()
            raise
        self.app.notify(_("Review recorded."))
        self.load_reviews()
        self.load()
