"""The record's written sections: medications, history, goals, social and questionnaires, each
marked when the person has not shared it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from clinic_tui.api.schemas import PatientDetail
from clinic_tui.i18n import _
from clinic_tui.views.format import NOT_SHARED, plain, withheld
from clinic_tui.widgets.patient.base import PatientPanel

RECORD_CATEGORIES = frozenset({"medications", "history", "goals", "social", "questionnaires"})


class RecordsPanel(PatientPanel):
    NAME = "records"

    def compose(self) -> ComposeResult:
        yield Static(_("Medications, history, goals"), classes="section-title")
        yield Static("", id="records")

    def show_record(self, d: PatientDetail, first: bool) -> None:
        shared = set(d.shared)
        records = self.query_one("#records", Static)
        if not shared & RECORD_CATEGORIES:
            records.update(withheld())
            return
        text = Text()
        for r in d.records:
            text.append(f"{r.category:<12}", style="dim")
            text.append(r.text + "\n")
        missing = sorted(RECORD_CATEGORIES - shared)
        if missing:
            text.append(f"{', '.join(missing)}: ", style="dim")
            text.append(_(NOT_SHARED), style="italic dim")
        records.update(text if text.plain else plain(_("Nothing recorded.")))

    def wipe(self) -> None:
        super().wipe()
        if self.is_mounted:
            self.query_one("#records", Static).update("")
