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

from clinic_tui.api.schemas import AuditEventOut, BreakGlassReview
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
    BINDINGS = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="audit.filter",
            tooltip="Filter: user:NAME outcome:denied action:read person:ID",
        ),
        Binding("escape", "clear_filter", "Clear", id="audit.clear", tooltip="Clear the filter", show=False),
        Binding(
            "v", "verify", "Verify chain", id="audit.verify", tooltip="Check the audit hash chain end to end"
        ),
        Binding("r", "refresh", "Refresh", id="audit.refresh", tooltip="Reload"),
        Binding(
            "n", "review", "Review", id="audit.review", tooltip="Review the selected break-the-glass access"
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
            with TabPane("Access log", id="tab-log"):
                yield FilterBox("user:anna outcome:denied action:read person:ID")
                yield DataTable(id="audit-log", cursor_type="row", zebra_stripes=True)
            with TabPane("Break-the-glass reviews", id="tab-reviews"):
                yield DataTable(id="reviews", cursor_type="row")
                yield Static("", id="review-reason")
        yield Static("", id="list-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        user = self.app.client.user
        self.title = f"Audit — {user.organization_name}"
        log = self.query_one("#audit-log", DataTable)
        for label, key, width in (
            ("#", "seq", 7),
            ("When", "ts", 17),
            ("Who", "who", 18),
            ("Action", "action", 14),
            ("Person", "person", 9),
            ("Purpose", "purpose", 14),
            ("Outcome", "outcome", 8),
            ("Why", "why", 44),
        ):
            log.add_column(label, key=key, width=width)
        reviews = self.query_one("#reviews", DataTable)
        for label, width in (("Opened", 17), ("Nurse", 12), ("Person", 9), ("Until", 17), ("Reason", 50)):
            reviews.add_column(label, width=width)
        log.focus()
        self.load()
        self.load_reviews()

    # ------------------------------------------------------------------ access log

    @property
    def filters(self) -> dict[str, str]:
        return parse_filter(self.query_one("#filter", Input).value)

    def _row(self, e: AuditEventOut) -> list:
        who = f"{e.username or '—'} ({e.role})" if e.role else (e.username or "—")
        return [
            plain(e.seq),
            plain(local_time(e.ts)),
            plain(who),
            plain(e.action),
            plain((e.person_id or "")[:6]),
            plain(e.purpose),
            Text(e.outcome, style=OUTCOME_STYLE.get(e.outcome, "")),
            plain(e.reason),
        ]

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def load(self) -> None:
        page = await self.app.client.audit_events(limit=PAGE, **self.filters)
        table = self.query_one("#audit-log", DataTable)
        with self.app.batch_update():
            table.clear()
            for e in page.items:
                table.add_row(*self._row(e), key=str(e.seq))
        self.next_before = page.next_before_seq
        self.query_one("#list-status", Static).update(
            f"{table.row_count} records, newest first"
            + (" · older load as you scroll" if self.next_before else "")
        )

    @work(exclusive=True, group="audit-more", exit_on_error=False)
    async def load_more(self) -> None:
        if self.next_before is None:
            return
        self.loading_more = True
        try:
            page = await self.app.client.audit_events(before_seq=self.next_before, limit=PAGE, **self.filters)
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
        self.query_one("#list-status", Static).update("Verifying the audit chain…")
        result = await self.app.client.audit_verify()
        if result.ok:
            text = f"Audit chain intact: {result.checked} records verified."
            self.app.notify(text, title="Audit verify", timeout=6)
        else:
            text = f"AUDIT CHAIN BROKEN at record {result.first_bad_seq}: {result.problem}"
            self.app.notify(text, title="Audit verify", severity="error", timeout=15)
        self.query_one("#list-status", Static).update(text)

    # ------------------------------------------------------------------ reviews

    @work(exclusive=True, group="reviews", exit_on_error=False)
    async def load_reviews(self) -> None:
        data = await self.app.client.break_glass_reviews()
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
        pane.get_tab("tab-reviews").label = f"Break-the-glass reviews ({len(data.items)})"

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
            self.app.notify("No break-the-glass access is waiting for review.")
            return
        self.query_one(TabbedContent).active = "tab-reviews"
        grant_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        review = self.reviews[grant_id]
        prompt = TextPrompt(
            f"Review emergency access by {review.username}",
            f"Reason given: {review.reason}\nYour review note (required):",
            initial=note,
        )
        self.app.push_screen(prompt, lambda text: text and self.send_review(grant_id, text))

    @work(group="review-send", exit_on_error=False)
    async def send_review(self, grant_id: str, note: str) -> None:
        from clinic_tui.api.client import ApiError, Unreachable

        try:
            await self.app.client.review_break_glass(grant_id, note)
        except Unreachable as exc:
            self.app.notify(f"{exc.message} Your note is kept.", severity="error")
            self.action_review(note)
            return
        except ApiError as exc:
            self.app.notify(exc.message, severity="warning")
        else:
            self.app.notify("Review recorded.")
        self.load_reviews()
        self.load()
