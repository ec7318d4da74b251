"""One break-the-glass access for the supervisor's review: who opened whose record, why, until
when; the records made under it (Enter opens one in full); the verdicts so far; and the same verdict
dialog as findings (three choices, a required note, ``expected_version``).

Reached from the audit log's "Break-the-glass reviews" tab (Enter or ``n``); Esc goes back.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.widgets import DataTable, Static

from clinic_tui import findings_text
from clinic_tui.api.schemas import BreakGlassReview
from clinic_tui.api.schemas.monitoring import GrantDetail
from clinic_tui.domain.findings import Verdict
from clinic_tui.i18n import N_, _
from clinic_tui.views.base import AppScreen
from clinic_tui.views.findings import (
    Judged,
    add_event_columns,
    event_row,
    history_text,
    judged_bindings,
    monitoring,
    person_label,
    show_identity,
)
from clinic_tui.views.format import local_time


class GrantScreen(Judged, AppScreen):
    BINDINGS = judged_bindings("grant", N_("Back to the reviews"))
    PART = "grant"
    EVIDENCE_TITLE = N_("Records under this access (Enter opens the full record)")

    def __init__(self, grant_id: str):
        super().__init__()
        self.grant_id = grant_id
        self.grant: GrantDetail | None = None

    def on_mount(self) -> None:
        self.title = _("Emergency access review")
        add_event_columns(self.query_one("#evidence", DataTable))
        self.query_one("#evidence", DataTable).focus()
        self.reload()

    @work(exclusive=True, group="grant", exit_on_error=False)
    async def load(self) -> None:
        self.shown(await monitoring(self).review(self.grant_id))

    def reload(self) -> None:
        self.load()

    def shown(self, g: BreakGlassReview) -> None:
        if isinstance(g, GrantDetail):
            self.grant = g
            table = self.query_one("#evidence", DataTable)
            with self.app.batch_update():
                table.clear()
                for e in g.records:
                    table.add_row(*event_row(e), key=str(e.seq))
        elif self.grant is not None:
            # a verdict's answer has no records: keep the ones shown
            self.grant = GrantDetail(**{**g.model_dump(), "records": self.grant.records})
        self.version = g.version
        head = Text()
        head.append(_("Emergency access"), style="bold")
        head.append(
            "  "
            + _("{user} · {person} · {start} – {until} · {state}").format(
                user=g.username,
                person=person_label(g.person_id),
                start=local_time(g.created_at),
                until=local_time(g.expires_at),
                state=findings_text.state(g.state),
            )
        )
        self.query_one("#grant-head", Static).update(head)
        self.query_one("#grant-reason", Static).update(
            Text(_("Reason given: {reason}").format(reason=g.reason))
        )
        self.query_one("#verdicts", Static).update(history_text(g.verdicts))

    @on(DataTable.RowSelected, "#evidence")
    def _open_record(self, event: DataTable.RowSelected) -> None:
        self.open_record(int(event.row_key.value))

    def verdict_title(self) -> str:
        return _("Verdict on emergency access by {username}").format(
            username=self.grant.username if self.grant else ""
        )

    def verdict_context(self) -> str:
        return _("Reason given: {reason}").format(reason=self.grant.reason) if self.grant else ""

    async def send_verdict(self, verdict: Verdict, note: str, version: int):
        return await monitoring(self).judge_review(self.grant_id, verdict, note, expected_version=version)

    def action_judge(self) -> None:
        if self.grant is not None:
            super().action_judge()

    @work(exclusive=True, group="identity", exit_on_error=False)
    async def action_who(self) -> None:
        if self.grant is not None:
            await show_identity(self, self.grant.person_id)

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)
