"""The report analyst in the TUI: lands on the reports screen, issues a report, reads it with
suppressed cells marked, sees it in the issued list, exports it; a refusal keeps what was typed."""

from __future__ import annotations

import json
from datetime import date

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from clinic_tui.views.reports import ReportsScreen
from clinic_tui.widgets.modals import TextPrompt
from tests.coaching_util import COACHING
from tests.factories import PASSWORD
from tests.report_util import last_year, store_meeting
from tests.tui.conftest import log_in, settle

YEAR = last_year()


@pytest.fixture
def nordbygg(world, session):
    imr = world.org("IMR", kind="imr")
    employer = world.employer("Nordbygg AB", date(2020, 1, 1))
    coach = world.user("cecilia", "coach", imr)
    world.user("gustav", "report_analyst", imr)
    for i in range(12):
        p = world.person(birth=date(1965 + 2 * i, 5, 1), employer=employer)
        p.sex = "female" if i % 2 else "male"
        world.consent(p, imr, categories=COACHING, purpose="coaching")
        store_meeting(session, p, coach, date(YEAR, 2, 1 + i), weight=62.0 + 2.5 * i)
    session.commit()


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def _type(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)


async def test_the_analyst_issues_reads_and_exports_a_report(tui, nordbygg, tmp_path):
    app = tui()
    async with app.run_test(size=(140, 45)) as pilot:
        await log_in(pilot, "gustav", PASSWORD)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        assert screen.query_one("#period", Input).value == str(YEAR)
        # the year this is not over: refused, worded, what was typed stays
        await _type(pilot, "#employer", "Nordbygg AB")
        await _type(pilot, "#period", str(YEAR + 1))
        await pilot.press("enter")
        await settle(pilot)
        assert "Year not over" in _text(screen, "#report-status")
        assert screen.query_one("#employer", Input).value == "Nordbygg AB"
        assert screen.query_one("#period", Input).value == str(YEAR + 1)
        assert screen.current is None

        await _type(pilot, "#period", str(YEAR))
        await pilot.press("enter")
        await settle(pilot)
        assert "Report issued." in _text(screen, "#report-status")
        shown = _text(screen, "#report")
        assert "Nordbygg AB" in shown and "Body mass index" in shown and "█" in shown
        assert "– suppressed: not shown" in shown  # the legend
        # suppressed cells read "–" in the tables, never 0 or "<5"
        cells = [line for line in shown.splitlines() if line.rstrip().endswith("–")]
        assert cells and "<5" not in shown
        assert screen.query_one("#issued", DataTable).row_count == 1

        # asking again gives the same report
        await pilot.press("enter")
        await settle(pilot)
        assert "issued before" in _text(screen, "#report-status")

        # export: a path that cannot be written asks again with the reason; then it is written
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        bad = tmp_path / "missing-dir" / "r.json"
        good = tmp_path / "r.json"
        for target in (bad, good):
            assert isinstance(app.screen, TextPrompt)
            said = " ".join(str(w.render()) for w in app.screen.query(Static))
            assert ("Cannot write" in said) == (target == good)
            app.screen.query_one(TextArea).load_text(str(target))
            await pilot.press("ctrl+s")
            await settle(pilot)
        assert not bad.exists()
        report = json.loads(good.read_text())
        assert (report["employer"], report["period"]) == ("Nordbygg AB", YEAR)
        assert "Written to" in _text(screen, "#report-status")


async def test_bad_input_is_said_and_nothing_is_asked(tui, nordbygg):
    app = tui()
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, "gustav", PASSWORD)
        screen = app.screen
        await _type(pilot, "#employer", "Nobody AB")
        await pilot.press("enter")
        await settle(pilot)
        assert (
            "Not found" in _text(screen, "#report-status") or "not" in _text(screen, "#report-status").lower()
        )
        await _type(pilot, "#employer", "")
        await pilot.press("enter")
        await settle(pilot)
        assert "Type the employer" in _text(screen, "#report-status")
        assert screen.query_one("#issued", DataTable).row_count == 0
