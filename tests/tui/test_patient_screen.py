"""The app's one patient screen, pointed at one person after another.

It is kept between opens (building it was the slowest part of opening a patient), so these tests
hold it to what a fresh screen gave for free: nothing of the previous person is ever shown, a screen
not on view asks the server nothing, and logging out takes it away.
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select
from textual.widgets import DataTable, Static

from clinic_server.db.models import AuditEvent
from clinic_tui.views import patient as patient_view
from clinic_tui.views.login import LoginScreen
from clinic_tui.views.patient import PatientScreen
from tests.factories import PASSWORD
from tests.tui.conftest import log_in, open_patient, settle


def shown_text(screen: PatientScreen) -> str:
    """Everything the screen could paint: title, every static, every table cell."""
    parts = [str(screen.title)]
    parts += [str(s.render()) for s in screen.query(Static)]
    for table in screen.query(DataTable):
        parts += [str(c) for i in range(table.row_count) for c in table.get_row_at(i)]
    return "\n".join(parts)


def reads_of(session, person_id: str) -> int:
    session.rollback()
    stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.person_id == person_id)
    return session.scalar(stmt)


async def test_the_next_person_never_sees_the_previous_one(tui, clinic):
    nora, vera = clinic["nora"], clinic["vera"]
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await open_patient(pilot, nora.id)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        assert "Nora Norrman" in shown_text(screen) and nora.phone in shown_text(screen)

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen
        # off view, the screen keeps nothing of her
        assert screen.person_id is None and screen.detail is None
        assert "Norrman" not in shown_text(screen) and nora.phone not in shown_text(screen)

        # the same screen, pointed at vera: before her record arrives it shows no one
        app.open_patient(vera.id)
        assert app.get_screen("patient") is screen
        assert "Norrman" not in shown_text(screen) and nora.phone not in shown_text(screen)
        await settle(pilot)
        assert app.screen is screen and screen.person_id == vera.id
        text = shown_text(screen)
        assert "Norrman" not in text and "not shared by the patient" in text
        assert screen.query_one("#latest", DataTable).row_count == 2


async def test_a_patient_screen_off_view_asks_the_server_nothing(tui, clinic, session, monkeypatch):
    monkeypatch.setattr(patient_view, "REFRESH_SECONDS", 0.2)
    nora = clinic["nora"]
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await open_patient(pilot, nora.id)
        opened = reads_of(session, nora.id)
        await asyncio.sleep(0.7)
        await settle(pilot)
        refreshed = reads_of(session, nora.id)
        assert refreshed > opened  # on view, it refreshes (so the next check can fail)
        await pilot.press("escape")
        await settle(pilot)
        left = reads_of(session, nora.id)
        await asyncio.sleep(0.7)
        await settle(pilot)
        assert reads_of(session, nora.id) == left


async def test_logging_out_takes_the_patient_screen_away(tui, clinic):
    nora = clinic["nora"]
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        await open_patient(pilot, nora.id)
        screen = app.screen
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert not app.is_screen_installed("patient")
        assert screen.person_id is None and "Norrman" not in shown_text(screen)


async def test_the_footer_offers_alert_keys_only_with_alerts(tui, clinic, http, session, monkeypatch):
    """And it is rebuilt only when that changes (KeyFooter), not on every open."""
    from clinic_tui.widgets.key_footer import KeyFooter
    from tests.vitals_util import device, obs, post

    nora, vera = clinic["nora"], clinic["vera"]
    composed = []
    original = KeyFooter.compose

    def counting(self):
        composed.append(self.screen)
        yield from original(self)

    monkeypatch.setattr(KeyFooter, "compose", counting)
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "anna", PASSWORD)
        r = await post(http, device(session, nora), obs("8480-6", 188))  # one excursion for nora
        assert r.status_code == 200, r.text

        def offered() -> set[str]:
            return {k.description for k in app.screen.query_one(KeyFooter).query("FooterKey")}

        await open_patient(pilot, nora.id)
        screen = app.screen
        assert {"Resolve", "Ack"} <= offered() and "1y" in offered()
        builds = composed.count(screen)

        await pilot.press("escape")
        await settle(pilot)
        await open_patient(pilot, nora.id)
        assert composed.count(screen) == builds  # nothing changed: no rebuild
        assert {"Resolve", "Ack"} <= offered()

        await pilot.press("escape")
        await settle(pilot)
        await open_patient(pilot, vera.id)
        assert "Resolve" not in offered() and "Ack" not in offered() and "1y" in offered()
        assert composed.count(screen) > builds


async def test_a_coach_sees_no_alert_section(tui, world, session):
    """Alerts are the nurses' work: a coach's participant screen has no alert table or alert keys."""
    imr = world.org("IMR", kind="imr")
    cecilia = world.user("cecilia", "coach", imr)
    employer = world.employer("Snickeriet AB", date(2025, 1, 1))  # identity: IMR's legitimate interest
    karin = world.person("Karin", "Kondition", conditions=(), employer=employer)
    world.consent(karin, imr, categories=["vitals"], purpose="coaching")
    world.assign(cecilia, karin)
    session.commit()
    app = tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, "cecilia", PASSWORD)
        await open_patient(pilot, karin.id)
        screen = app.screen
        assert isinstance(screen, PatientScreen) and "Kondition" in shown_text(screen)
        assert screen.query_one("#trend").display  # her shared vitals are charted
        note = str(screen.query_one("#trend-note", Static).render())
        assert "readings in range" in note and not note.rstrip().endswith(":"), note
        for widget_id in ("#alerts-title", "#patient-alerts", "#alert-notes"):
            assert not screen.query(widget_id), widget_id  # not even mounted: a coach gets no alerts panel
        assert "acknowledge" not in app.export_screenshot()
